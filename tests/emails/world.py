"""The simulator over HTTP as relink's Stripe, deactivation events run through the real
handler, and what the email tests read back: outbox rows, cases, the emails written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlmodel import select

from shared.db import get_engine, session_scope
from shared.models import EmailOutbox, RelinkCase
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
    preferred_locales: list[str] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An authorization whose accounts were deactivated; its `deactivated` events."""
    customer = sim.client.create_customer(email, preferred_locales)["id"]
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


def due_email(sim: SimServer, last4: str = "1111", **kwargs: Any) -> int:
    """One deactivated account's authorization handled: the id of its due relink email."""
    _, events = deactivated_authorization(sim, last4s=(last4,), **kwargs)
    before = {row.id for row in outbox_rows()}
    handle(events[0])
    [outbox_id] = [row.id for row in outbox_rows() if row.id not in before]
    assert outbox_id is not None
    return outbox_id


def outbox_rows() -> list[EmailOutbox]:
    with session_scope() as session:
        return list(session.exec(select(EmailOutbox).order_by(EmailOutbox.id)).all())


def outbox_row(outbox_id: int) -> EmailOutbox:
    with session_scope() as session:
        row = session.get(EmailOutbox, outbox_id)
        assert row is not None
        return row


def cases() -> list[RelinkCase]:
    with session_scope() as session:
        return list(session.exec(select(RelinkCase).order_by(RelinkCase.id)).all())


def sent_files(directory: Path) -> list[EmailMessage]:
    """The emails the file:// transport wrote to `directory`, in file-name order."""
    parser = BytesParser(_class=EmailMessage, policy=default_policy)
    return [parser.parsebytes(path.read_bytes()) for path in sorted(directory.glob("*.eml"))]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return body.get_content()
