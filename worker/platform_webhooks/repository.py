"""The platform outbox's queries and row locks: claim a due row (at most
PLATFORM_WEBHOOK_MAX_IN_FLIGHT at once), record an attempt, list, replay. Nothing here
commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, text, update
from sqlmodel import Session, col, select

from shared import delivery
from shared.delivery import DeliveryStatus
from shared.platform_webhooks import endpoint
from shared.platform_webhooks.models import PLATFORM_EVENTS, PlatformAttempt, PlatformEvent
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
    lease = claim_timeout(settings)
    row = delivery.lock_claimable(session, PLATFORM_EVENTS, event_id, now=now, lease=lease)
    if row is None:
        return None
    if endpoint.must_hold(session, row):
        row.status = DeliveryStatus.HELD
        session.add(row)
        return HELD
    in_flight = session.exec(
        select(func.count(col(PlatformEvent.id))).where(
            delivery.in_flight(PLATFORM_EVENTS, now=now, lease=lease)
        )
    ).one()
    if in_flight >= settings.platform_webhook_max_in_flight:
        return BUSY
    return delivery.take(session, row, now=now)


def due_event_ids(
    session: Session, *, now: datetime, settings: Settings, limit: int = 500
) -> list[int]:
    """Pending rows that are due, and `sending` rows a dead worker left: for the sweep."""
    lease = claim_timeout(settings)
    return delivery.due_ids(session, PLATFORM_EVENTS, now=now, lease=lease, limit=limit)


def lock_claimed(
    session: Session, event_id: int, claimed_at: datetime | None
) -> PlatformEvent | None:
    """The row, locked, if it is still this claim's (not reclaimed after a stall)."""
    query = select(PlatformEvent).where(delivery.held_by(PLATFORM_EVENTS, event_id, claimed_at))
    return session.exec(query.with_for_update()).first()


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
