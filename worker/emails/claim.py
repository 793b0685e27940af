"""Claiming outbox rows: a due `pending` row (or a `sending` row whose worker died) becomes
`sending` in its own short transaction; a row can be given back, and a claim re-checked."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import update
from sqlmodel import Session, col

from shared import delivery
from shared.db import session_scope, utcnow
from shared.delivery import DeliveryStatus
from shared.models import EMAILS, EmailOutbox
from shared.settings import Settings, get_settings

log = structlog.get_logger(__name__)


def lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.email_claim_timeout_seconds)


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
    row = delivery.lock_claimable(
        session,
        EMAILS,
        outbox_id,
        now=now,
        lease=lease(settings),
        max_attempts=settings.max_email_attempts,
    )
    return delivery.take(session, row, now=now) if row is not None else None


def due_outbox_ids(session: Session, *, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Rows a sweep should publish: due and pending, or claimed by a worker long gone.
    Rows whose stale claim used up every attempt are marked failed."""
    settings = get_settings()
    now = now or utcnow()
    limits = {"now": now, "lease": lease(settings), "max_attempts": settings.max_email_attempts}
    delivery.fail_exhausted(session, EMAILS, **limits)
    return delivery.due_ids(session, EMAILS, **limits, limit=limit)


def release(outbox_id: int, error: Exception, *, retry_in: float) -> bool:
    """Give a claimed row back after a failed attempt, due again in `retry_in` seconds; on
    the last attempt mark it failed. Returns whether it is final."""
    with session_scope() as session:
        row = session.get(EmailOutbox, outbox_id)
        if row is None or row.status != DeliveryStatus.SENDING:
            return True
        last = row.attempts >= get_settings().max_email_attempts
        final = delivery.release(
            session,
            EMAILS,
            row,
            now=utcnow(),
            retry_in=None if last else retry_in,
            error=f"{type(error).__name__}: {error}"[:2000],
        )
    log.warning("email_failed", outbox_id=outbox_id, error=type(error).__name__, final=final)
    return final


def hold_after_refused_login(outbox_id: int, error: Exception, *, pause: float) -> int:
    """After a refused SMTP login: give the row back without counting the attempt, and hold
    it and every other pending row for `pause` seconds, so no worker logs in again with the
    same credentials meanwhile (the rows wait for the fix; none is failed). Returns how many
    rows are held."""
    until = utcnow() + timedelta(seconds=pause)
    with session_scope() as session:
        session.execute(
            update(EmailOutbox)
            .where(
                col(EmailOutbox.id) == outbox_id, col(EmailOutbox.status) == DeliveryStatus.SENDING
            )
            .values(
                status=DeliveryStatus.PENDING,
                attempts=col(EmailOutbox.attempts) - 1,
                last_error=f"{type(error).__name__}: {error}"[:2000],
            )
            .execution_options(synchronize_session=False)
        )
        held = session.execute(
            update(EmailOutbox)
            .where(
                col(EmailOutbox.status) == DeliveryStatus.PENDING,
                col(EmailOutbox.send_after) < until,
            )
            .values(send_after=until)
            .execution_options(synchronize_session=False)
        )
    return int(held.rowcount)  # type: ignore[attr-defined]


def still_claimed(outbox_id: int, claimed_at: datetime | None) -> bool:
    """Renew this worker's claim just before the send, if it is still this worker's.

    Stripe calls and the SMTP token wait can outlast EMAIL_CLAIM_TIMEOUT_SECONDS; the sweep
    then hands the row to another worker. Without this fence both would send it."""
    with session_scope() as session:
        renewed = session.execute(
            update(EmailOutbox)
            .where(delivery.held_by(EMAILS, outbox_id, claimed_at))
            .values(claimed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return renewed.rowcount == 1  # type: ignore[attr-defined]
