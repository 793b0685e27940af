"""Process inbox events in sets, one transaction per batch: the receiver queues the events of
one group commit together (relink.process_events), and the one-event task (relink.process_event)
is a batch of one, so there is one way an event is processed.

Per batch: the events are locked in id order (skipping any another worker holds: that worker
processes it), then every authorization, its cases not yet over and every account the batch
touches, in id order, so two batches sharing authorizations wait, never deadlock, and the
handlers find their rows held (no query each). The handlers then run in Stripe's order and
their writes go out together in one flush (a few multi-row statements), in one savepoint.
Each event still stands alone: if one fails, that savepoint is rolled back and every event
runs again in a savepoint of its own, so the failing event is rolled back by itself and its
neighbours commit. A permanent error fails it here; any other error sends it to the
one-event task, which retries it with backoff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import structlog
from sqlalchemy import update
from sqlmodel import Session, col, select

from shared import metrics
from shared.connect import acting_on
from shared.db import session_scope, utcnow
from shared.models import EventStatus, WebhookEvent
from shared.queue import savepoint
from worker.cases.repository import lock_up_front
from worker.errors import PermanentEventError
from worker.inbox.handlers import HANDLERS, stripe_account_of
from worker.inbox.thin import hydrate, is_thin

log = structlog.get_logger(__name__)

# Events per transaction: bounds the locks one transaction holds and the session's size.
MAX_BATCH = 100


@dataclass
class BatchResult:
    statuses: dict[str, str] = field(default_factory=dict)  # id → processed/ignored/failed
    errors: dict[str, Exception] = field(default_factory=dict)  # failed transiently, or a bug

    @property
    def to_retry(self) -> list[str]:
        """The events to run alone again (the one-event task's retries)."""
        return list(self.errors)


def process_batch(event_ids: list[str], *, wait: bool = False) -> BatchResult:
    """Process the unprocessed events among `event_ids` (at most MAX_BATCH) in one
    transaction; ids already processed, missing or held by another worker are left alone
    (with `wait`, an event another worker holds is waited for instead)."""
    result = BatchResult()
    with session_scope() as session:
        rows = session.exec(
            select(
                WebhookEvent.id, WebhookEvent.type, WebhookEvent.payload, WebhookEvent.received_at
            )
            .where(col(WebhookEvent.id).in_(event_ids))
            .where(WebhookEvent.status == EventStatus.RECEIVED)
            .order_by(col(WebhookEvent.id))
            .with_for_update(skip_locked=not wait)
        ).all()
        events: list[tuple[str, str, dict[str, Any]]] = []
        received = {row[0]: row[3] for row in rows}
        for event_id, event_type, payload, _ in rows:
            try:
                event = orjson.loads(payload or "")
            except orjson.JSONDecodeError:
                event = None
            if not isinstance(event, dict):
                _fail(session, result, PermanentEventError(event_id, "payload is not JSON"))
            elif (hydrated := _hydrated(session, result, event_id, event_type, event)) is not None:
                events.append((event_id, event_type, hydrated))
        lock_up_front(
            session,
            {a for _, _, e in events if (a := _touches(e, "authorization"))},
            {a for _, _, e in events if (a := _touches(e, "account"))},
        )
        events.sort(key=_stripe_order)
        if not _run_together(session, result, events):
            for event_id, event_type, event in events:
                _run_one(session, result, event_id, event_type, event)
        _mark_done(session, result, received)
    return result


def _run_together(
    session: Session, result: BatchResult, events: list[tuple[str, str, dict[str, Any]]]
) -> bool:
    """Every event's handler in one savepoint, their writes flushed together; False (all
    rolled back, nothing noted) if any of them failed."""
    done: dict[str, str] = {}
    try:
        with savepoint(session):
            for event_id, event_type, event in events:
                handler = HANDLERS.get(event_type)
                if handler is None:
                    done[event_id] = EventStatus.IGNORED
                    continue
                with (
                    structlog.contextvars.bound_contextvars(event_id=event_id),
                    acting_on(stripe_account_of(event)),
                ):
                    handler(session, event)
                done[event_id] = EventStatus.PROCESSED
            session.flush()
    except Exception as exc:  # run again one savepoint each: the failing event fails alone
        log.info("batch_split", events=len(events), error=type(exc).__name__)
        return False
    result.statuses.update(done)
    for event_id, event_type, _ in events:
        if done[event_id] == EventStatus.PROCESSED:
            log.info("event_processed", event_id=event_id, type=event_type, status="processed")
    return True


def _hydrated(
    session: Session, result: BatchResult, event_id: str, event_type: str, event: dict[str, Any]
) -> dict[str, Any] | None:
    """A handled thin event with its related object fetched (worker/inbox/thin.py), before
    the locks are taken; None when it failed (permanently, or to be retried alone)."""
    if event_type not in HANDLERS or not is_thin(event):
        return event
    try:
        return hydrate(event)
    except PermanentEventError as exc:
        _fail(session, result, exc)
    except Exception as exc:  # Stripe unreachable, rate limited: the one-event task retries
        result.errors[event_id] = exc
        log.warning("event_deferred", event_id=event_id, error=type(exc).__name__)
    return None


def _run_one(
    session: Session,
    result: BatchResult,
    event_id: str,
    event_type: str,
    event: dict[str, Any],
) -> None:
    handler = HANDLERS.get(event_type)
    if handler is None:
        result.statuses[event_id] = EventStatus.IGNORED
        return
    try:
        with (
            structlog.contextvars.bound_contextvars(event_id=event_id),
            savepoint(session),  # its rollback also drops the event's pending publishes
            acting_on(stripe_account_of(event)),
        ):
            handler(session, event)
    except PermanentEventError as exc:
        _fail(session, result, exc)
        return
    except Exception as exc:  # anything else is the one-event task's to retry or give up
        result.errors[event_id] = exc
        log.warning("event_deferred", event_id=event_id, error=type(exc).__name__)
        return
    result.statuses[event_id] = EventStatus.PROCESSED
    log.info("event_processed", event_id=event_id, type=event_type, status="processed")


def _fail(session: Session, result: BatchResult, error: PermanentEventError) -> None:
    session.execute(
        update(WebhookEvent)
        .where(col(WebhookEvent.id) == error.event_id)
        .values(
            status=EventStatus.FAILED,
            attempts=WebhookEvent.attempts + 1,
            last_error=f"{type(error).__name__}: {error}"[:2000],
            processed_at=utcnow(),
        )
    )
    result.statuses[error.event_id] = EventStatus.FAILED
    log.warning("event_failed", event_id=error.event_id, error=type(error).__name__, final=True)


def _mark_done(session: Session, result: BatchResult, received: dict[str, datetime]) -> None:
    """One UPDATE per final status for the events that succeeded, in the same transaction."""
    now = utcnow()
    for status in (EventStatus.PROCESSED, EventStatus.IGNORED):
        ids = [event_id for event_id, done in result.statuses.items() if done == status]
        for event_id in ids:
            metrics.observe_since(session, metrics.WEBHOOK_TO_PROCESSED, received[event_id], now)
        if ids:
            session.execute(
                update(WebhookEvent)
                .where(col(WebhookEvent.id).in_(ids))
                .values(status=status, attempts=WebhookEvent.attempts + 1, processed_at=now)
            )


def _stripe_order(item: tuple[str, str, dict[str, Any]]) -> tuple[int, str]:
    """Events in Stripe's order (created, then id), as one at a time would mostly see them."""
    created = item[2].get("created")
    return (created if isinstance(created, int) else 0, item[0])


def _touches(event: dict[str, Any], kind: str) -> tuple[str, str] | None:
    """The (Stripe account, id) of the authorization (or account) an event's handler will
    lock: for an account event its authorization and itself, for an authorization event the
    authorization."""
    data = event.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        return None
    value: object = None
    if found.get("object") == "financial_connections.account":
        value = found.get("authorization") if kind == "authorization" else found.get("id")
    elif found.get("object") == "financial_connections.authorization" and kind == "authorization":
        value = found.get("id")
    return (stripe_account_of(event), value) if isinstance(value, str) and value else None
