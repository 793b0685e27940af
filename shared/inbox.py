"""The inbox: record a verified event once, and decide when it needs (re-)queueing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.dialects import sqlite
from sqlmodel import Session, col, select

from shared.db import utcnow
from shared.errors import InvalidRequestError
from shared.models import EventStatus, WebhookEvent

MAX_ID_LENGTH = 255
# A `created` further than this from now is no Stripe event (and 2**63 would overflow the
# BIGINT column and fail the whole group-commit batch).
MAX_CLOCK_DISTANCE_SECONDS = 10 * 365 * 86400
THIN_EVENT_OBJECT = "v2.core.event"


class NotAnEvent(InvalidRequestError):
    """A payload that is not a Stripe event relink can record; the message names the field."""

    code = "not_an_event"


def _short_text(value: object, *, prefix: str = "") -> bool:
    """A non-empty printable string (PostgreSQL text cannot hold NUL) of a Stripe id's size."""
    return (
        isinstance(value, str)
        and value.startswith(prefix)
        and 0 < len(value) <= MAX_ID_LENGTH
        and value.isprintable()
    )


def iso_seconds(value: object) -> int | None:
    """A thin event's `created` (ISO 8601, `2026-12-02T08:00:00.000Z`) as Unix seconds."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return int(moment.timestamp()) if moment.tzinfo is not None else None


def _related_object(value: object) -> bool:
    return isinstance(value, dict) and all(
        _short_text(value.get(key)) for key in ("id", "type", "url")
    )


@dataclass(frozen=True)
class EventHeader:
    """The few fields of an event the receiver reads; the rest stays in `payload`."""

    id: str
    type: str
    created: int
    livemode: bool
    api_version: str | None
    account: str | None

    @classmethod
    def from_event(cls, event: object, *, now: float) -> EventHeader:
        """The header of a decoded event, or NotAnEvent naming every field that is wrong."""
        if not isinstance(event, dict) or event.get("object") != "event":
            raise NotAnEvent("the body is not a Stripe event object")
        created = event.get("created")
        data = event.get("data")
        checks = {
            "id": _short_text(event.get("id"), prefix="evt_"),
            "type": _short_text(event.get("type")),
            "created": isinstance(created, int)
            and not isinstance(created, bool)
            and abs(created - now) <= MAX_CLOCK_DISTANCE_SECONDS,
            "livemode": isinstance(event.get("livemode"), bool),
            "api_version": event.get("api_version") is None
            or _short_text(event.get("api_version")),
            "account": event.get("account") is None or _short_text(event.get("account")),
            "data.object": isinstance(data, dict) and isinstance(data.get("object"), dict),
        }
        if bad := [name for name, ok in checks.items() if not ok]:
            raise NotAnEvent(f"the event lacks a valid {', '.join(bad)}")
        return cls(
            id=event["id"],
            type=event["type"],
            created=event["created"],
            livemode=event["livemode"],
            api_version=event.get("api_version"),
            account=event.get("account"),
        )

    @classmethod
    def from_thin_event(
        cls, event: dict[str, Any], *, now: float, handled: frozenset[str]
    ) -> EventHeader:
        """The header of a decoded thin event (`v2.core.event`): unversioned, its `created`
        an ISO time, `context` the connected account (one `acct_` segment, or null), and
        for a `handled` type the `related_object` to fetch; NotAnEvent names every field
        that is wrong."""
        created = iso_seconds(event.get("created"))
        context, related = event.get("context"), event.get("related_object")
        checks = {
            "id": _short_text(event.get("id"), prefix="evt_"),
            "type": _short_text(event.get("type")),
            "created": created is not None and abs(created - now) <= MAX_CLOCK_DISTANCE_SECONDS,
            "livemode": isinstance(event.get("livemode"), bool),
            "context": context is None
            or (_short_text(context, prefix="acct_") and "/" not in context),
            "related_object": _related_object(related)
            if event.get("type") in handled
            else related is None or isinstance(related, dict),
        }
        if bad := [name for name, ok in checks.items() if not ok]:
            raise NotAnEvent(f"the thin event lacks a valid {', '.join(bad)}")
        return cls(
            id=event["id"],
            type=event["type"],
            created=created or 0,
            livemode=event["livemode"],
            api_version=None,
            account=context,
        )


@dataclass(frozen=True)
class InboxItem:
    header: EventHeader
    payload: str
    handled: bool  # False: a type relink does not handle, recorded as ignored


_COLUMNS = (
    "id",
    "type",
    "created",
    "livemode",
    "api_version",
    "account",
    "payload",
    "status",
    "attempts",
    "received_at",
    "enqueued_at",
)
# On PostgreSQL the batch goes straight to psycopg's pipelined executemany: a third of the
# CPU per row of SQLAlchemy's insertmanyvalues, on the receiver's hot path.
_PG_INSERT = (
    "INSERT INTO webhook_event (id, type, created, livemode, api_version, account, payload,"
    " status, attempts, received_at, enqueued_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (id) DO NOTHING RETURNING id"
)


def _insert_new(session: Session, items: list[InboxItem], now: datetime) -> set[str]:
    """Insert the events not yet in the inbox (ids unique); return the ids inserted."""
    rows = [
        (
            item.header.id,
            item.header.type,
            item.header.created,
            item.header.livemode,
            item.header.api_version,
            item.header.account,
            item.payload,
            EventStatus.RECEIVED if item.handled else EventStatus.IGNORED,
            0,
            now,
            now if item.handled else None,
        )
        for item in items
    ]
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        inserted: set[str] = set()
        with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.executemany(_PG_INSERT, rows, returning=True)
            while True:
                inserted.update(row[0] for row in cursor.fetchall())
                if not cursor.nextset():
                    return inserted
    insert = (
        sqlite.insert(WebhookEvent)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(WebhookEvent.id)  # type: ignore[arg-type]
    )
    return {
        row[0]
        for row in connection.execute(
            insert, [dict(zip(_COLUMNS, row, strict=True)) for row in rows]
        )
    }


def record_events(session: Session, items: list[InboxItem], *, stale_after: timedelta) -> set[str]:
    """Insert the new events in one round trip; return the ids to (re)queue now.

    A duplicate is queued again only while it is still unprocessed and its last enqueue is
    older than `stale_after` (or failed), so a Stripe retry is never swallowed by dedupe.
    """
    now = utcnow()
    # In id order: concurrent batches that share ids lock them in the same order (no deadlock).
    latest = {item.header.id: item for item in reversed(items)}
    unique = [latest[event_id] for event_id in sorted(latest)]
    inserted = _insert_new(session, unique, now)
    to_queue = {item.header.id for item in items if item.handled and item.header.id in inserted}
    duplicates = [item.header.id for item in items if item.header.id not in inserted]
    if duplicates:
        to_queue.update(claim_stale(session, now - stale_after, event_ids=duplicates))
    return to_queue


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


def forget_enqueue(session: Session, event_ids: list[str]) -> None:
    """The publish failed: clear enqueued_at so a redelivery or the redrive queues them at once."""
    session.execute(
        update(WebhookEvent).where(col(WebhookEvent.id).in_(event_ids)).values(enqueued_at=None)
    )


def count_stuck(session: Session, older_than: timedelta) -> int:
    """Inbox events received more than `older_than` ago and still unprocessed."""
    return session.exec(
        select(func.count())
        .select_from(WebhookEvent)
        .where(col(WebhookEvent.status) == EventStatus.RECEIVED)
        .where(col(WebhookEvent.received_at) < utcnow() - older_than)
    ).one()
