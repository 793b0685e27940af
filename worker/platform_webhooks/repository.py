"""The platform outbox's queries and row locks: claim a due row (at most
PLATFORM_WEBHOOK_MAX_IN_FLIGHT at once), record an attempt, list, replay. Nothing here
commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, text, update
from sqlmodel import Session, col, or_, select

from shared import platform_endpoint
from shared.platform_models import DeliveryStatus, PlatformAttempt, PlatformEvent
from shared.settings import Settings

BUSY = "busy"
HELD = "held"
# Every claim takes this transaction-scoped lock first (PostgreSQL), so two workers cannot
# both count N-1 in flight and both claim; SQLite serialises writers anyway.
_CLAIM_LOCK = 0x72656C696E6B  # "relink"


def claim_timeout(settings: Settings) -> timedelta:
    """A `sending` row older than this was left by a dead worker and may be claimed again: an
    attempt ends PLATFORM_WEBHOOK_TIMEOUT_SECONDS after its claim (a wall-clock deadline),
    and 30 s cover building its body and recording it."""
    return timedelta(seconds=settings.platform_webhook_timeout_seconds + 30)


def claim(
    session: Session, event_id: int, *, now: datetime, settings: Settings
) -> PlatformEvent | str | None:
    """Mark a due row `sending` (attempts + 1) and return it; BUSY when the endpoint already
    has PLATFORM_WEBHOOK_MAX_IN_FLIGHT deliveries in flight; HELD (the row now `held`) when
    the endpoint is disabled or an earlier event of its key is held; None when it is not due."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK})
    row = session.exec(
        select(PlatformEvent).where(PlatformEvent.id == event_id).with_for_update()
    ).first()
    stale = now - claim_timeout(settings)
    if row is None:
        return None
    if row.status == DeliveryStatus.PENDING:
        if row.next_attempt_at > now:
            return None
    elif row.status != DeliveryStatus.SENDING or (row.claimed_at and row.claimed_at > stale):
        return None
    if platform_endpoint.must_hold(session, row):
        row.status = DeliveryStatus.HELD
        session.add(row)
        return HELD
    in_flight = session.exec(
        select(func.count(col(PlatformEvent.id))).where(
            PlatformEvent.status == DeliveryStatus.SENDING,
            col(PlatformEvent.claimed_at) > stale,
        )
    ).one()
    if in_flight >= settings.platform_webhook_max_in_flight:
        return BUSY
    row.status = DeliveryStatus.SENDING
    row.claimed_at = now
    row.attempts += 1
    session.add(row)
    return row


def due_event_ids(
    session: Session, *, now: datetime, settings: Settings, limit: int = 500
) -> list[int]:
    """Pending rows that are due, and `sending` rows a dead worker left: for the sweep."""
    stale = now - claim_timeout(settings)
    query = (
        select(PlatformEvent.id)
        .where(
            or_(
                (col(PlatformEvent.status) == DeliveryStatus.PENDING)
                & (col(PlatformEvent.next_attempt_at) <= now),
                (col(PlatformEvent.status) == DeliveryStatus.SENDING)
                & (col(PlatformEvent.claimed_at) <= stale),
            )
        )
        .order_by(col(PlatformEvent.next_attempt_at))
        .limit(limit)
    )
    return [event_id for event_id in session.exec(query) if event_id is not None]


def lock_claimed(
    session: Session, event_id: int, claimed_at: datetime | None
) -> PlatformEvent | None:
    """The row, locked, if it is still this claim's (not reclaimed after a stall)."""
    row = session.exec(
        select(PlatformEvent).where(PlatformEvent.id == event_id).with_for_update()
    ).first()
    if row is None or row.status != DeliveryStatus.SENDING or row.claimed_at != claimed_at:
        return None
    return row


def events(session: Session, *, status: str | None = None, limit: int = 50) -> list[PlatformEvent]:
    query = select(PlatformEvent).order_by(col(PlatformEvent.id).desc()).limit(limit)
    if status is not None:
        query = query.where(PlatformEvent.status == status)
    return list(session.exec(query))


def attempts_of(session: Session, event_id: int) -> list[PlatformAttempt]:
    query = select(PlatformAttempt).where(PlatformAttempt.event_id == event_id)
    return list(session.exec(query.order_by(col(PlatformAttempt.id))))


def replay(session: Session, *, event_id: int | None, now: datetime) -> list[int]:
    """Failed rows (one, or all) back to `pending` now, with a fresh retry window; their ids.
    The webhook id stays: a receiver that saw it before can dedupe."""
    query = (
        update(PlatformEvent)
        .where(col(PlatformEvent.status) == DeliveryStatus.FAILED)
        .values(status=DeliveryStatus.PENDING, next_attempt_at=now, retrying_since=now)
        .returning(col(PlatformEvent.id))
    )
    if event_id is not None:
        query = query.where(col(PlatformEvent.id) == event_id)
    return sorted(int(row[0]) for row in session.execute(query))
