"""The inbox: record a verified event once, and decide when it needs (re-)queueing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from shared.db import utcnow
from shared.models import EventStatus, WebhookEvent


@dataclass(frozen=True)
class EventHeader:
    """The few fields of an event the receiver reads; the rest stays in `payload`."""

    id: str
    type: str
    created: int
    livemode: bool
    api_version: str | None
    account: str | None


def record_event(
    session: Session, header: EventHeader, payload: str, *, handled: bool, stale_after: timedelta
) -> bool:
    """Insert the event if new; return whether it should be (re)queued now.

    A duplicate is queued again only while it is still unprocessed and its last enqueue is
    older than `stale_after` (or failed), so a Stripe retry is never swallowed by dedupe.
    """
    now = utcnow()
    values = {
        "id": header.id,
        "type": header.type,
        "created": header.created,
        "livemode": header.livemode,
        "api_version": header.api_version,
        "account": header.account,
        "payload": payload,
        "status": EventStatus.RECEIVED if handled else EventStatus.IGNORED,
        "attempts": 0,
        "received_at": now,
        "enqueued_at": now if handled else None,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    inserted = session.execute(
        dialect.insert(WebhookEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(WebhookEvent.id)  # type: ignore[arg-type]
    ).first()
    if inserted is not None:
        return handled
    return claim_stale(session, now - stale_after, event_ids=[header.id]) == [header.id]


def claim_stale(
    session: Session, cutoff: datetime, *, event_ids: list[str] | None = None, limit: int = 500
) -> list[str]:
    """Stamp unprocessed events whose enqueue is older than `cutoff` (or never happened) as
    enqueued now and return their ids: the caller then queues exactly those."""
    candidates = (
        select(WebhookEvent.id)
        .where(col(WebhookEvent.status) == EventStatus.RECEIVED)
        .where(or_(col(WebhookEvent.enqueued_at).is_(None), col(WebhookEvent.enqueued_at) < cutoff))
        .limit(limit)
    )
    if event_ids is not None:
        candidates = candidates.where(col(WebhookEvent.id).in_(event_ids))
    stmt = (
        update(WebhookEvent)
        .where(col(WebhookEvent.id).in_(candidates.scalar_subquery()))
        .where(col(WebhookEvent.status) == EventStatus.RECEIVED)
        .where(or_(col(WebhookEvent.enqueued_at).is_(None), col(WebhookEvent.enqueued_at) < cutoff))
        .values(enqueued_at=utcnow())
        .returning(WebhookEvent.id)  # type: ignore[arg-type]
    )
    return [row[0] for row in session.execute(stmt)]


def forget_enqueue(session: Session, event_id: str) -> None:
    """The publish failed: clear enqueued_at so a redelivery or the redrive queues it at once."""
    session.execute(
        update(WebhookEvent).where(col(WebhookEvent.id) == event_id).values(enqueued_at=None)
    )


def count_stuck(session: Session, older_than: timedelta) -> int:
    """Inbox events received more than `older_than` ago and still unprocessed."""
    return session.exec(
        select(func.count())
        .select_from(WebhookEvent)
        .where(col(WebhookEvent.status) == EventStatus.RECEIVED)
        .where(col(WebhookEvent.received_at) < utcnow() - older_than)
    ).one()
