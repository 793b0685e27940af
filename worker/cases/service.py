"""Relink cases: one customer problem per authorization, its emails, and how it ends.

Plain functions that never commit; the task (or the event's transaction) does. The caller
holds the authorization's row lock (worker/cases/repository.lock_authorization).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import update
from sqlmodel import Session, col

from shared import metrics
from shared.db import utcnow
from shared.emails.enqueue import add_email
from shared.events.catalog import ASSESS_MONEY_AT_STAKE
from shared.models import CaseState, EmailKind, EmailOutbox, OutboxStatus, RelinkCase
from shared.platform_webhooks import events, payloads
from shared.queue import publish_after_commit
from shared.settings import get_settings
from worker.cases.core.classification import Deactivation
from worker.cases.repository import insert_case, open_case_of, unrepairable_case_of
from worker.recovery.request import request_recovery

log = structlog.get_logger(__name__)


def open_or_join_case(
    session: Session,
    *,
    authorization_id: str,
    account_id: str,
    deactivation: Deactivation,
    now: datetime | None = None,
) -> tuple[RelinkCase, bool]:
    """Open the authorization's case for a deactivation or join the one already there;
    return it and whether it was opened now. Opening writes the case's one email, due after
    the quiet period, so sibling deactivations arriving meanwhile are named in that email."""
    now = now or utcnow()
    if deactivation.repairable:
        case = open_case_of(session, authorization_id)
        state, kind = CaseState.OPEN, EmailKind.RELINK
    else:
        case = unrepairable_case_of(session, authorization_id)
        state, kind = CaseState.UNREPAIRABLE, EmailKind.UNREPAIRABLE
    opened = broken_now = False
    if case is None:
        case, opened = insert_case(session, authorization_id, account_id, deactivation, state, now)
        broken_now = opened
    structlog.contextvars.bind_contextvars(case_id=case.id, authorization_id=authorization_id)
    case.last_heard_at = now
    if case.state == CaseState.PROACTIVE and deactivation.repairable:
        # Warned ahead, now broken: the relink email goes out.
        case.state = CaseState.OPEN
        case.cause, case.action = deactivation.cause, deactivation.action
        metrics.count_step(session, "deactivated")
        broken_now = True
    session.add(case)
    settings = get_settings()
    if broken_now and settings.money_at_stake:  # read once the siblings have joined too
        assert case.id is not None
        delay = settings.quiet_period_seconds or None
        publish_after_commit(session, ASSESS_MONEY_AT_STAKE, [case.id], countdown=delay)
    send_after = case.opened_at + timedelta(seconds=settings.quiet_period_seconds)
    if case.state in (CaseState.OPEN, CaseState.UNREPAIRABLE):
        add_email(
            session, case, kind, send_after=send_after, key=kind.value, now=now, new_case=opened
        )
    if opened:
        unrepairable = case.state == CaseState.UNREPAIRABLE
        opened_type = payloads.CASE_UNREPAIRABLE if unrepairable else payloads.CASE_OPENED
        events.record_case_event(session, opened_type, case)
        metrics.count_step(session, "deactivated")
        if unrepairable:
            metrics.count_step(session, "unrepairable")
    log.info(
        "case_opened" if opened else "case_joined",
        case_id=case.id,
        authorization_id=authorization_id,
        account_id=account_id,
        cause=deactivation.cause,
        action=deactivation.action,
    )
    return case, opened


def cancel_pending_emails(session: Session, case_id: int) -> int:
    """Cancel the case's emails not yet sent (or claimed); return how many."""
    result = session.execute(
        update(EmailOutbox)
        .where(
            col(EmailOutbox.case_id) == case_id,
            col(EmailOutbox.status) == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.CANCELLED)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def resolve_case(
    session: Session,
    case: RelinkCase,
    resolution: str,
    *,
    now: datetime | None = None,
    resolved_by: str | None = None,
) -> None:
    """Close the case (e.g. resolution "reactivated", by an event id) and cancel its pending
    emails."""
    structlog.contextvars.bind_contextvars(case_id=case.id, authorization_id=case.authorization_id)
    case.state = CaseState.RESOLVED
    case.resolved_at = now or utcnow()
    case.resolution = resolution
    case.resolved_by = resolved_by
    case.next_reminder_at = None
    session.add(case)
    assert case.id is not None
    cancelled = cancel_pending_emails(session, case.id)
    events.record_case_event(session, payloads.CASE_RESOLVED, case)
    if (step := metrics.resolution_step(resolution, case.payment_method_id)) is not None:
        metrics.count_step(session, step)
    if resolution in metrics.REPAIRED_RESOLUTIONS:  # its accounts work again
        request_recovery(session, case)
    log.info(
        "case_resolved",
        case_id=case.id,
        resolution=resolution,
        resolved_by=resolved_by,
        cancelled=cancelled,
    )
