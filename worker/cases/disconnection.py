"""`financial_connections.account.disconnected`: the account leaves its case; when nothing
repairable is left, the case becomes unrepairable with one "new payment method" email."""

from __future__ import annotations

import structlog
from sqlmodel import Session

from shared.db import utcnow
from shared.emails.enqueue import add_email
from shared.events.stripe_event import EventRef
from shared.models import CaseState, EmailKind
from shared.platform_webhooks import events, payloads
from shared.stripe_objects import AccountSnapshot, Action
from worker.cases.account_events import apply_account_event
from worker.cases.core.verdicts import DISCONNECTED, Step, disconnection
from worker.cases.repository import open_case_of
from worker.cases.review import open_case_view, standing_of
from worker.cases.service import cancel_pending_emails, resolve_case

log = structlog.get_logger(__name__)


def handle_disconnection(session: Session, event: EventRef, account: AccountSnapshot) -> str:
    """Return what became of the authorization's open case: none, kept, resolved or
    unrepairable (`ignored` for an older snapshot or an account without authorization)."""
    applied = apply_account_event(session, event, account)
    stored, authorization = applied.stored, applied.authorization
    if stored is None or authorization is None or stored.status != DISCONNECTED:
        return "ignored"
    case = open_case_of(session, authorization.id)
    if case is None:
        return "none"
    now = utcnow()
    verdict = disconnection(
        standing_of(session, authorization, now), open_case_view(case), stored.id
    )
    if verdict.step is Step.RETARGET:
        assert verdict.account is not None
        case.account_id = verdict.account.id
        session.add(case)
    if verdict.step in (Step.KEEP, Step.RETARGET):
        return "kept"
    if verdict.step is Step.RESOLVE:
        resolve_case(session, case, DISCONNECTED, now=now, resolved_by=event.id)
        return "resolved"
    assert case.id is not None
    cancel_pending_emails(session, case.id)
    case.state = CaseState.UNREPAIRABLE
    case.cause, case.action = DISCONNECTED, Action.NONE
    case.next_reminder_at = None
    case.last_heard_at = now
    session.add(case)
    add_email(session, case, EmailKind.UNREPAIRABLE, send_after=now, key="unrepairable", now=now)
    events.record_case_event(session, payloads.CASE_UNREPAIRABLE, case)
    log.info("case_unrepairable", case_id=case.id, event_id=event.id, cause=DISCONNECTED)
    return "unrepairable"
