"""Relink cases: one customer problem per authorization, its emails, and how it ends.

Helpers here never commit; the task (or the event's transaction) does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from shared.db import utcnow
from shared.models import (
    OPEN_CASE_STATES,
    CaseState,
    EmailKind,
    EmailOutbox,
    FcAuthorization,
    OutboxStatus,
    RelinkCase,
)
from shared.settings import get_settings
from worker.celery_app import SEND_EMAIL
from worker.classify import Deactivation
from worker.dispatch import publish_after_commit

log = structlog.get_logger(__name__)

# Publish a send task with a countdown only when it is due this soon; later rows (reminders)
# are found by the beat sweep, so no long-eta message sits in the broker.
MAX_COUNTDOWN_SECONDS = 600.0


def lock_authorization(session: Session, authorization_id: str) -> FcAuthorization:
    """Insert the authorization if new, then lock its row: one authorization's events take
    turns, so siblings cannot both open a case or both write its email."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(FcAuthorization)
        .values(id=authorization_id, state_at=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return session.exec(
        select(FcAuthorization)
        .where(FcAuthorization.id == authorization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def open_case_of(session: Session, authorization_id: str) -> RelinkCase | None:
    return session.exec(
        select(RelinkCase).where(
            RelinkCase.authorization_id == authorization_id,
            col(RelinkCase.state).in_(OPEN_CASE_STATES),
        )
    ).first()


def _unrepairable_case_of(session: Session, authorization_id: str) -> RelinkCase | None:
    return session.exec(
        select(RelinkCase).where(
            RelinkCase.authorization_id == authorization_id,
            RelinkCase.state == CaseState.UNREPAIRABLE,
            col(RelinkCase.resolved_at).is_(None),
        )
    ).first()


def record_deactivation(
    session: Session,
    *,
    authorization_id: str,
    account_id: str,
    deactivation: Deactivation,
    now: datetime | None = None,
) -> tuple[RelinkCase, bool]:
    """Open the authorization's case or join the one already there; return it and whether it
    was opened now. Opening writes the case's one email, due after the quiet period, so
    sibling deactivations arriving meanwhile are named in that same email."""
    now = now or utcnow()
    lock_authorization(session, authorization_id)
    if deactivation.repairable:
        case = open_case_of(session, authorization_id)
        state, kind = CaseState.OPEN, EmailKind.RELINK
    else:
        case = _unrepairable_case_of(session, authorization_id)
        state, kind = CaseState.UNREPAIRABLE, EmailKind.UNREPAIRABLE
    opened = False
    if case is None:
        case, opened = insert_case(session, authorization_id, account_id, deactivation, state, now)
    case.last_heard_at = now
    if case.state == CaseState.PROACTIVE and deactivation.repairable:
        # Warned ahead, now broken: the relink email goes out.
        case.state = CaseState.OPEN
        case.cause, case.action = deactivation.cause, deactivation.action
    session.add(case)
    settings = get_settings()
    send_after = case.opened_at + timedelta(seconds=settings.quiet_period_seconds)
    if case.state in (CaseState.OPEN, CaseState.UNREPAIRABLE):
        add_email(session, case, kind, send_after=send_after, key=kind.value, now=now)
    log.info(
        "case_opened" if opened else "case_joined",
        case_id=case.id,
        authorization_id=authorization_id,
        account_id=account_id,
        cause=deactivation.cause,
        action=deactivation.action,
    )
    return case, opened


def insert_case(
    session: Session,
    authorization_id: str,
    account_id: str,
    deactivation: Deactivation,
    state: CaseState,
    now: datetime,
) -> tuple[RelinkCase, bool]:
    """Insert a case; if a concurrent transaction opened one first (the unique partial index
    on open cases), join that one instead."""
    case = RelinkCase(
        authorization_id=authorization_id,
        account_id=account_id,
        state=state,
        cause=deactivation.cause,
        action=deactivation.action,
        opened_at=now,
        last_heard_at=now,
    )
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        existing = open_case_of(session, authorization_id)
        if existing is None:
            raise
        return existing, False
    return case, True


def message_key(case_id: int, key: str) -> str:
    """The outbox idempotency key: one row per case and purpose, ever."""
    return f"relink-case-{case_id}-{key}"


def add_email(
    session: Session,
    case: RelinkCase,
    kind: EmailKind,
    *,
    send_after: datetime,
    key: str,
    now: datetime | None = None,
) -> EmailOutbox | None:
    """Write the outbox row for (case, key) unless it exists; publish its send task after the
    commit when it is due soon. Returns the new row, or None if it was already there."""
    assert case.id is not None
    message_id = message_key(case.id, key)
    if session.exec(select(EmailOutbox.id).where(EmailOutbox.message_id == message_id)).first():
        return None
    row = EmailOutbox(case_id=case.id, kind=kind, send_after=send_after, message_id=message_id)
    session.add(row)
    session.flush()
    delay = max(0.0, (send_after - (now or utcnow())).total_seconds())
    if delay <= MAX_COUNTDOWN_SECONDS:
        publish_after_commit(session, SEND_EMAIL, [row.id], countdown=delay or None)
    return row


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
    case.state = CaseState.RESOLVED
    case.resolved_at = now or utcnow()
    case.resolution = resolution
    case.resolved_by = resolved_by
    case.next_reminder_at = None
    session.add(case)
    assert case.id is not None
    cancelled = cancel_pending_emails(session, case.id)
    log.info(
        "case_resolved",
        case_id=case.id,
        resolution=resolution,
        resolved_by=resolved_by,
        cancelled=cancelled,
    )


def request_fresh_link(session: Session, case_id: int, *, now: datetime | None = None) -> str:
    """Write a fresh-link email for an open case to the address on file, at most one per
    FRESH_LINK_INTERVAL_SECONDS. Returns queued, rate_limited, not_open or missing."""
    now = now or utcnow()
    case = session.exec(
        select(RelinkCase).where(RelinkCase.id == case_id).with_for_update()
    ).first()
    if case is None:
        return "missing"
    if case.state not in OPEN_CASE_STATES:
        return "not_open"
    interval = get_settings().fresh_link_interval_seconds
    recent = session.exec(
        select(EmailOutbox.id).where(
            EmailOutbox.case_id == case_id,
            EmailOutbox.kind == EmailKind.FRESH_LINK,
            col(EmailOutbox.created_at) > now - timedelta(seconds=interval),
        )
    ).first()
    if recent is not None:
        return "rate_limited"
    # The key's time bucket also stops two racing requests (the unique message id).
    key = f"fresh-{int(now.timestamp()) // interval}"
    try:
        with session.begin_nested():
            row = add_email(session, case, EmailKind.FRESH_LINK, send_after=now, key=key, now=now)
    except IntegrityError:
        row = None
    if row is None:
        return "rate_limited"
    row.created_at = now
    session.add(row)
    return "queued"
