"""One registry from Stripe event type to the function that handles it. The event's
`data.object` is parsed here, once, into a typed snapshot; a payload that is not the object
its type promises is a permanent error. A thin type (`v1.<type>`) has its snapshot type's
handler: the worker hands it the event hydrated (worker/inbox/thin.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from shared.events.catalog import THIN_EVENT_PREFIX, THIN_EVENT_TYPES
from shared.events.stripe_event import EventRef
from shared.stripe_objects import AccountSnapshot, AuthorizationSnapshot
from worker.cases.account_numbers import handle_account_numbers
from worker.cases.accounts import apply_account_snapshot
from worker.cases.deactivation import handle_deactivation
from worker.cases.disconnection import handle_disconnection
from worker.cases.proactive import handle_account_warning, handle_authorization_warning
from worker.cases.reactivation import handle_reactivation
from worker.errors import PermanentEventError
from worker.recovery.service import settle_from_event

Handler = Callable[[Session, dict[str, Any]], None]
HANDLERS: dict[str, Handler] = {}


def handles(*event_types: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            HANDLERS[event_type] = handler
            if THIN_EVENT_PREFIX + event_type in THIN_EVENT_TYPES:
                HANDLERS[THIN_EVENT_PREFIX + event_type] = handler
        return handler

    return register


def stripe_account_of(event: dict[str, Any]) -> str:
    """The connected account an event is about ('' for the platform's own): its handler acts
    on that account (shared.connect.acting_on)."""
    account = event.get("account")
    return account if isinstance(account, str) else ""


def _data_object(event: dict[str, Any], kind: str) -> dict[str, Any]:
    found = (event.get("data") or {}).get("object")
    if not isinstance(found, dict) or found.get("object") != kind:
        raise PermanentEventError(event["id"], f"data.object is not a {kind}")
    return found


def account_of(event: dict[str, Any]) -> AccountSnapshot:
    """`data.object` of an account event, or a permanent error naming what is wrong."""
    account = _data_object(event, "financial_connections.account")
    try:
        return AccountSnapshot.parse(account)
    except ValueError as exc:
        raise PermanentEventError(event["id"], "account without id or status") from exc


def authorization_of(event: dict[str, Any]) -> AuthorizationSnapshot:
    """`data.object` of an authorization event, or a permanent error naming what is wrong."""
    authorization = _data_object(event, "financial_connections.authorization")
    try:
        return AuthorizationSnapshot.parse(authorization)
    except ValueError as exc:
        raise PermanentEventError(event["id"], "authorization without id") from exc


@handles("financial_connections.account.created")
def on_account_created(session: Session, event: dict[str, Any]) -> None:
    apply_account_snapshot(
        session, account_of(event), created=event["created"], event_id=event["id"]
    )


@handles("financial_connections.account.deactivated")
def on_account_deactivated(session: Session, event: dict[str, Any]) -> None:
    snapshot = account_of(event)
    handle_deactivation(session, EventRef.of(event), snapshot)


@handles("financial_connections.account.reactivated")
def on_account_reactivated(session: Session, event: dict[str, Any]) -> None:
    snapshot = account_of(event)
    handle_reactivation(session, EventRef.of(event), snapshot)


@handles("financial_connections.account.disconnected")
def on_account_disconnected(session: Session, event: dict[str, Any]) -> None:
    snapshot = account_of(event)
    handle_disconnection(session, EventRef.of(event), snapshot)


@handles(
    "financial_connections.account.upcoming_deactivation",
    "financial_connections.account.expected_deactivation_date_updated",
    "financial_connections.account.upcoming_account_number_expiry",
)
def on_account_warning(session: Session, event: dict[str, Any]) -> None:
    snapshot = account_of(event)
    handle_account_warning(session, EventRef.of(event), snapshot)


@handles("financial_connections.account.account_numbers_updated")
def on_account_numbers_updated(session: Session, event: dict[str, Any]) -> None:
    snapshot = account_of(event)
    handle_account_numbers(session, EventRef.of(event), snapshot)


@handles(
    "financial_connections.authorization.upcoming_deactivation",
    "financial_connections.authorization.expected_deactivation_date_updated",
)
def on_authorization_warning(session: Session, event: dict[str, Any]) -> None:
    snapshot = authorization_of(event)
    handle_authorization_warning(session, EventRef.of(event), snapshot)


@handles("invoice.paid", "invoice.payment_failed")
def on_invoice_settled(session: Session, event: dict[str, Any]) -> None:
    """An invoice relink paid again settled (RECOVER_FAILED_PAYMENTS); any other invoice's
    event changes nothing."""
    invoice = _data_object(event, "invoice")
    paid = event["type"] == "invoice.paid"
    settle_from_event(session, invoice, paid, stripe_account_of(event))
