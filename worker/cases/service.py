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
from shared.outbox import add_email
from shared.settings import get_settings
from worker.cases.classification import Deactivation

log = structlog.get_logger(__name__)


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
