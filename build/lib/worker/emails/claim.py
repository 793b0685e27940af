"""Claiming outbox rows: a due `pending` row (or a `sending` row whose worker died) becomes
`sending` in its own short transaction; a row can be given back, and a claim re-checked."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, and_, or_, update
from sqlmodel import Session, col, select

from shared.db import session_scope, utcnow
from shared.models import (
    EmailOutbox,
    OutboxStatus,
)
from shared.settings import Settings, get_settings

log = structlog.get_logger(__name__)


def _claimable(now: datetime, stale_before: datetime, max_attempts: int) -> ColumnElement[bool]:
    return and_(
        col(EmailOutbox.attempts) < max_attempts,
        or_(
            and_(
                col(EmailOutbox.status) == OutboxStatus.PENDING,
                col(EmailOutbox.send_after) <= now,
            ),
            and_(
                col(EmailOutbox.status) == OutboxStatus.SENDING,
                col(EmailOutbox.claimed_at) < stale_before,
            ),
        ),
    )


def claim(
    session: Session,
    outbox_id: int,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> EmailOutbox | None:
    """Claim the row for this worker, or None if it is not due, already claimed or done."""
    settings = settings or get_settings()
    now = now or utcnow()
    stale_before = now - timedelta(seconds=settings.email_claim_timeout_seconds)
    result = session.execute(
        update(EmailOutbox)
        .where(
            col(EmailOutbox.id) == outbox_id,
            _claimable(now, stale_before, settings.max_email_attempts),
        )
        .values(
            status=OutboxStatus.SENDING,
            claimed_at=now,
            attempts=col(EmailOutbox.attempts) + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(EmailOutbox, outbox_id, populate_existing=True)


def due_outbox_ids(session: Session, *, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Rows a sweep should publish: due and pending, or claimed by a worker long gone.
    Rows whose stale claim used up every attempt are marked failed."""
    settings = get_settings()
    now = now or utcnow()
    stale_before = now - timedelta(seconds=settings.email_claim_timeout_seconds)
    session.execute(
        update(EmailOutbox)
        .where(
            col(EmailOutbox.status) == OutboxStatus.SENDING,
            col(EmailOutbox.claimed_at) < stale_before,
            col(EmailOutbox.attempts) >= settings.max_email_attempts,
        )
        .values(status=OutboxStatus.FAILED, last_error="claimed too often without finishing")
        .execution_options(synchronize_session=False)
    )
    return [
        outbox_id
        for outbox_id in session.exec(
            select(EmailOutbox.id)
            .where(_claimable(now, stale_before, settings.max_email_attempts))
            .order_by(col(EmailOutbox.send_after))
            .limit(limit)
        ).all()
        if outbox_id is not None
    ]


def release(outbox_id: int, error: Exception, *, retry_in: float) -> bool:
    """Give a claimed row back after a failed attempt, due again in `retry_in` seconds; on
    the last attempt mark it failed. Returns whether it is final."""
    with session_scope() as session:
        row = session.get(EmailOutbox, outbox_id)
        if row is None or row.status != OutboxStatus.SENDING:
            return True
        final = row.attempts >= get_settings().max_email_attempts
        row.status = OutboxStatus.FAILED if final else OutboxStatus.PENDING
        row.send_after = utcnow() + timedelta(seconds=retry_in)
        row.last_error = f"{type(error).__name__}: {error}"[:2000]
        session.add(row)
    log.warning("email_failed", outbox_id=outbox_id, error=type(error).__name__, final=final)
    return final


def still_claimed(outbox_id: int, claimed_at: datetime | None) -> bool:
    """Renew this worker's claim just before the send, if it is still this worker's.

    Stripe calls and the SMTP token wait can outlast EMAIL_CLAIM_TIMEOUT_SECONDS; the sweep
    then hands the row to another worker. Without this fence both would send it."""
    with session_scope() as session:
        renewed = session.execute(
            update(EmailOutbox)
            .where(
                col(EmailOutbox.id) == outbox_id,
                col(EmailOutbox.status) == OutboxStatus.SENDING,
                col(EmailOutbox.claimed_at) == claimed_at,
            )
            .values(claimed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return renewed.rowcount == 1  # type: ignore[attr-defined]
