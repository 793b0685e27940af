"""`financial_connections.account.reactivated`: store the snapshot if newer, then reconcile
the whole authorization (coalesced with its siblings) and close its case."""

from __future__ import annotations

from typing import Any

import structlog
from sqlmodel import Session

from worker.cases.deactivation import with_preview_fields
from worker.cases.reconcile import Trigger, apply_event_snapshot, reconcile_locked
from worker.cases.service import lock_authorization

log = structlog.get_logger(__name__)


def handle_reactivation(session: Session, event: dict[str, Any], account: dict[str, Any]) -> str:
    """Return how the authorization was reconciled (reconciled, coalesced) or `no_authorization`."""
    account = with_preview_fields(event["id"], account)
    authorization_id = account.get("authorization")
    if not authorization_id:
        apply_event_snapshot(session, account, event)
        log.info("reactivated_without_authorization", event_id=event["id"])
        return "no_authorization"
    authorization = lock_authorization(session, authorization_id)
    apply_event_snapshot(session, account, event)
    return reconcile_locked(session, authorization, Trigger.of_event(event))
