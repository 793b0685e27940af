"""`financial_connections.account.deactivated`: store the snapshot if newer, classify, and
open or join the authorization's relink case."""

from __future__ import annotations

import structlog
from sqlmodel import Session

from shared.events.stripe_event import EventRef
from shared.models import RelinkCase
from shared.stripe_objects import AccountSnapshot, AccountStatus
from worker.cases.account_events import apply_account_event, fill_authorization
from worker.cases.core.classification import classify_deactivation
from worker.cases.service import open_or_join_case

log = structlog.get_logger(__name__)


def handle_deactivation(
    session: Session, event: EventRef, account: AccountSnapshot
) -> RelinkCase | None:
    """Apply the deactivation; return the case it opened or joined (None if it changed
    nothing: an older snapshot, an account active again, one without an authorization, or
    one the customer replaced with a newly linked account)."""
    applied = apply_account_event(session, event, account)
    stored, authorization = applied.stored, applied.authorization
    if stored is None:
        log.info("snapshot_older", event_id=event.id, account_id=account.id)
        return None
    if stored.status != AccountStatus.INACTIVE or authorization is None:
        log.info("nothing_to_repair", event_id=event.id, status=stored.status)
        return None
    if stored.replaced_by is not None:
        log.info("account_replaced", event_id=event.id, account_id=stored.id)
        return None
    fill_authorization(authorization, stored)
    case, _ = open_or_join_case(
        session,
        authorization_id=authorization.id,
        account_id=stored.id,
        deactivation=classify_deactivation(stored.inactive_cause, stored.inactive_action),
    )
    return case
