"""One registry from Stripe event type to the function that handles it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from worker.cases.accounts import apply_account_snapshot
from worker.cases.deactivation import handle_deactivation
from worker.cases.disconnection import handle_disconnection
from worker.cases.proactive import handle_account_warning, handle_authorization_warning
from worker.cases.reactivation import handle_reactivation
from worker.errors import PermanentEventError

Handler = Callable[[Session, dict[str, Any]], None]
HANDLERS: dict[str, Handler] = {}


def handles(*event_types: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            HANDLERS[event_type] = handler
        return handler

    return register


def account_of(event: dict[str, Any]) -> dict[str, Any]:
    """`data.object` of an account event, or a permanent error naming what is wrong."""
    account = (event.get("data") or {}).get("object")
    if not isinstance(account, dict) or account.get("object") != "financial_connections.account":
        raise PermanentEventError(event["id"], "data.object is not a financial_connections.account")
    if not isinstance(account.get("id"), str) or not isinstance(account.get("status"), str):
        raise PermanentEventError(event["id"], "account without id or status")
    return account


@handles("financial_connections.account.created")
def record_account_snapshot(session: Session, event: dict[str, Any]) -> None:
    apply_account_snapshot(
        session, account_of(event), created=event["created"], event_id=event["id"]
    )


@handles("financial_connections.account.deactivated")
def record_deactivation(session: Session, event: dict[str, Any]) -> None:
    handle_deactivation(session, event, account_of(event))


@handles("financial_connections.account.reactivated")
def record_reactivation(session: Session, event: dict[str, Any]) -> None:
    handle_reactivation(session, event, account_of(event))


@handles("financial_connections.account.disconnected")
def record_disconnection(session: Session, event: dict[str, Any]) -> None:
    handle_disconnection(session, event, account_of(event))


@handles(
    "financial_connections.account.upcoming_deactivation",
    "financial_connections.account.expected_deactivation_date_updated",
)
def record_account_warning(session: Session, event: dict[str, Any]) -> None:
    handle_account_warning(session, event, account_of(event))


@handles(
    "financial_connections.authorization.upcoming_deactivation",
    "financial_connections.authorization.expected_deactivation_date_updated",
)
def record_authorization_warning(session: Session, event: dict[str, Any]) -> None:
    handle_authorization_warning(session, event)
