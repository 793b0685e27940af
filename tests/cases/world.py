"""The simulator as relink's Stripe, its events fed through the real process_event on SQLite
(no Celery), for the cases and inbox tests. The simulator and its settings are those of the
email tests (tests/unit/email_world.py); only how events reach relink differs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlmodel import select

from shared.db import session_scope
from shared.events.inbox import EventHeader, InboxItem, record_events
from shared.models import EmailOutbox, FcAccount, RelinkCase
from shared.stripe_client import make_stripe_client, preview_options
from sim.testing import SimServer
from tests.emails.world import PREVIEW, simulated_stripe
from worker.inbox import handlers
from worker.inbox import service as processing

# Where nothing listens: the simulator renders events at the preview version (as an endpoint
# on that version would receive them) but never delivers them; tests feed them in.
NOWHERE = "http://127.0.0.1:9/webhooks/stripe"


@contextmanager
def simulated_world(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[SimServer]:
    """`simulated_stripe` with no quiet period and events rendered at the preview version."""
    with simulated_stripe(monkeypatch, **{"QUIET_PERIOD_SECONDS": "0", **env}) as sim:
        sim.client.configure_webhooks(NOWHERE, sim.webhook_secret, PREVIEW, paused=True)
        yield sim


@dataclass
class Authorization:
    id: str
    customer: str
    accounts: list[str]


def new_authorization(
    sim: SimServer, n_accounts: int = 3, email: str | None = "ada@example.com"
) -> Authorization:
    customer = sim.client.create_customer(email)["id"]
    auth = sim.client.create_authorization(
        {"type": "customer", "customer": customer},
        institution="First Platypus Bank",
        accounts=[
            {"last4": f"{1111 * (i + 1):04d}"[-4:], "subcategory": "checking"}
            for i in range(n_accounts)
        ],
    )
    return Authorization(str(auth["id"]), customer, list(auth["accounts"]))


def relink(sim: SimServer, auth: Authorization, outcome: str = "success") -> str:
    """Open a relink session for the authorization (as the page does) and finish it."""
    session = make_stripe_client().v1.financial_connections.sessions.create(
        params={  # type: ignore[arg-type]
            "account_holder": {"type": "customer", "customer": auth.customer},
            "permissions": ["payment_method", "balances"],
            "relink_options": {"authorization": auth.id},
        },
        options=preview_options(),  # type: ignore[arg-type]
    )
    sim.client.complete_session(session.id, outcome)
    return str(session.id)


def events_of(sim: SimServer, auth: Authorization, *types: str) -> list[dict[str, Any]]:
    """The simulator's events about the authorization or its accounts, oldest first."""
    ids = {auth.id, *auth.accounts}
    return [
        e
        for e in sim.client.events()
        if e["data"]["object"]["id"] in ids and (not types or e["type"] in types)
    ]


def feed(event: dict[str, Any]) -> str:
    """Record the event in the inbox as the receiver would, and process it in-process."""
    header = EventHeader(
        event["id"],
        event["type"],
        event["created"],
        event["livemode"],
        event["api_version"],
        event.get("account"),
    )
    item = InboxItem(header, orjson.dumps(event).decode(), event["type"] in handlers.HANDLERS)
    with session_scope() as session:
        record_events(session, [item], stale_after=timedelta(minutes=2))
    return processing.process_one(event["id"])


def cases() -> list[RelinkCase]:
    with session_scope() as session:
        return list(session.exec(select(RelinkCase).order_by(RelinkCase.id)).all())


def outbox_rows() -> list[EmailOutbox]:
    with session_scope() as session:
        return list(session.exec(select(EmailOutbox).order_by(EmailOutbox.id)).all())


def stored_accounts() -> dict[str, FcAccount]:
    with session_scope() as session:
        return {a.id: a for a in session.exec(select(FcAccount)).all()}


def call_counts(sim: SimServer) -> dict[str, int]:
    """Stripe calls relink made since the last `clear_requests`, by kind."""
    counts = {"authorization": 0, "list": 0, "account": 0}
    for request in sim.client.requests("/v1/financial_connections/"):
        path = request["path"]
        if request["method"] != "GET":
            continue
        if path.startswith("/v1/financial_connections/authorizations/"):
            counts["authorization"] += 1
        elif path == "/v1/financial_connections/accounts":
            counts["list"] += 1
        elif path.startswith("/v1/financial_connections/accounts/"):
            counts["account"] += 1
    return counts


def feed_new(sim: SimServer, seen: set[str], auth: object) -> None:
    """Feed the authorization's events not fed yet, in the simulator's order."""
    for event in events_of(sim, auth):  # type: ignore[arg-type]
        if event["id"] not in seen:
            seen.add(event["id"])
            feed(event)
