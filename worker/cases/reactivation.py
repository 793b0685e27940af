"""`financial_connections.account.reactivated`: store the snapshot if newer, then reconcile
the whole authorization (coalesced with its siblings) and close its case."""

from __future__ import annotations

import structlog
from sqlmodel import Session

from shared.events.stripe_event import EventRef
from shared.stripe_objects import AccountSnapshot
from worker.cases.account_events import apply_account_event
from worker.cases.reconcile import reconcile_locked, trigger_of

log = structlog.get_logger(__name__)


def handle_reactivation(session: Session, event: EventRef, account: AccountSnapshot) -> str:
    """Return how the authorization was reconciled (reconciled, coalesced) or `no_authorization`."""
    authorization = apply_account_event(session, event, account).authorization
    if authorization is None:
        log.info("reactivated_without_authorization", event_id=event.id)
        return "no_authorization"
    return reconcile_locked(session, authorization, trigger_of(event))
