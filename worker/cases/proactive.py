"""Relink ahead of breakage: `upcoming_deactivation` and `expected_deactivation_date_updated`
(of an account or of a whole authorization) open a `proactive` case when the action is
`relink_required`, and close it when the warning goes away (worker/cases/review.py)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from worker.cases.deactivation import with_preview_fields
from worker.cases.reconcile import (
    Trigger,
    apply_authorization_state,
    apply_event_snapshot,
    reconcile_locked,
)
from worker.cases.review import WARNING_CLEARED, review_case
from worker.cases.service import lock_authorization
from worker.errors import PermanentEventError


def handle_account_warning(
    session: Session, event: dict[str, Any], account: dict[str, Any]
) -> None:
    account = with_preview_fields(event["id"], account)
    authorization_id = account.get("authorization")
    if not authorization_id:
        apply_event_snapshot(session, account, event)
        return
    authorization = lock_authorization(session, authorization_id)
    if apply_event_snapshot(session, account, event) is None:
        return  # an older warning: what is stored already says more
    review_case(
        session, authorization, live=False, resolution=WARNING_CLEARED, resolved_by=event["id"]
    )


def authorization_of(event: dict[str, Any]) -> dict[str, Any]:
    found = (event.get("data") or {}).get("object")
    if not isinstance(found, dict) or found.get("object") != "financial_connections.authorization":
        raise PermanentEventError(
            event["id"], "data.object is not a financial_connections.authorization"
        )
    if not isinstance(found.get("id"), str):
        raise PermanentEventError(event["id"], "authorization without id")
    return found


def handle_authorization_warning(session: Session, event: dict[str, Any]) -> None:
    """An authorization-level warning names no account: store it, then read the accounts
    from the API (the reconciliation also opens or closes the proactive case)."""
    payload = authorization_of(event)
    authorization = lock_authorization(session, payload["id"])
    if int(event["created"]) < authorization.state_at:
        return  # an older warning
    apply_authorization_state(authorization, payload, int(event["created"]))
    session.add(authorization)
    reconcile_locked(session, authorization, Trigger.of_event(event))
