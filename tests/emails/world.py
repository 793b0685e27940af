"""The simulator over HTTP as relink's Stripe, and deactivation events run through the
real handler, for the worker's email tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from shared.db import get_engine, session_scope
from shared.settings import get_settings
from sim.testing import SimServer, run_sim_server
from worker.emails.contacts import clear_contact_cache
from worker.inbox.handlers import HANDLERS

PREVIEW = "2026-09-30.preview"


@contextmanager
def simulated_stripe(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[SimServer]:
    """The simulator as STRIPE_API_BASE, plus any settings given (upper-case names)."""
    with run_sim_server(rate_limit_per_second=0) as sim:
        monkeypatch.setenv("STRIPE_API_BASE", sim.base_url)
        monkeypatch.setenv("STRIPE_API_KEY", sim.api_key)
        monkeypatch.setenv("EMAIL_FROM", "relink <relink@example.com>")
        monkeypatch.setenv("PUBLIC_BASE_URL", "https://relink.example")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        get_engine.cache_clear()
        clear_contact_cache()
        yield sim
        clear_contact_cache()


def deactivated_authorization(
    sim: SimServer,
    *,
    last4s: tuple[str, ...] = ("1111", "2222", "3333"),
    cause: str = "access_expired",
    action: str = "relink_required",
    email: str | None = "ada@example.com",
    institution: str = "StripeBank",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An authorization whose accounts were deactivated; its `deactivated` events."""
    customer = sim.client.create_customer(email)["id"]
    auth = sim.client.create_authorization(
        {"type": "customer", "customer": customer},
        institution=institution,
        accounts=[{"last4": last4, "subcategory": "checking"} for last4 in last4s],
    )
    sim.client.deactivate_authorization(auth["id"], cause=cause, action=action)
    events = [
        e
        for e in sim.client.events()
        if e["type"] == "financial_connections.account.deactivated"
        and e["data"]["object"]["id"] in auth["accounts"]
    ]
    return auth, [
        {**e, "data": {"object": preview_account(sim, e["data"]["object"]["id"])}} for e in events
    ]


def preview_account(sim: SimServer, account_id: str) -> dict[str, Any]:
    """The account as a preview-version webhook endpoint would receive it."""
    response = requests.get(
        f"{sim.base_url}/v1/financial_connections/accounts/{account_id}",
        headers={"Authorization": f"Bearer {sim.api_key}", "Stripe-Version": PREVIEW},
        timeout=10,
    )
    response.raise_for_status()
    return dict(response.json())


def handle(event: dict[str, Any]) -> None:
    """Run the registered handler in its own unit of work, as process_event does."""
    with session_scope() as session:
        HANDLERS[event["type"]](session, event)
