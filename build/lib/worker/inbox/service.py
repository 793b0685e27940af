"""Process one inbox event exactly once in effect: its effects and its `processed` mark
commit together, under a row lock, so a second delivery of the task changes nothing."""

from __future__ import annotations

from datetime import timedelta

import orjson
import structlog
from sqlmodel import Session, select

from shared import metrics
from shared.connect import acting_on
from shared.db import session_scope, utcnow
from shared.inbox import claim_stale
from shared.models import EventStatus, WebhookEvent
from shared.settings import get_settings
from worker.errors import PermanentEventError
from worker.inbox.handlers import HANDLERS, stripe_account_of
from worker.inbox.thin import hydrate

log = structlog.get_logger(__name__)


def process_event(event_id: str) -> str:
    """Run the event's handler unless it already ran; return the event's status."""
    structlog.contextvars.bind_contextvars(event_id=event_id)
    with session_scope() as session:
        stored = session.exec(
            select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update()
        ).first()
        if stored is None:
            log.warning("event_missing", event_id=event_id)
            return "missing"
        if stored.status != EventStatus.RECEIVED:
            return stored.status
        handler = HANDLERS.get(stored.type)
        if handler is not None:
            try:
                event = orjson.loads(stored.payload or "")
            except orjson.JSONDecodeError as exc:
                raise PermanentEventError(event_id, "payload is not JSON") from exc
            event = hydrate(event)
            with acting_on(stripe_account_of(event)):
                handler(session, event)
        stored.status = EventStatus.PROCESSED if handler else EventStatus.IGNORED
        stored.attempts += 1
        stored.processed_at = utcnow()
        session.add(stored)
        metrics.observe_since(
            session, metrics.WEBHOOK_TO_PROCESSED, stored.received_at, stored.processed_at
        )
        log.info("event_processed", event_id=event_id, type=stored.type, status=stored.status)
        return stored.status


def record_failure(event_id: str, error: Exception, *, final_status: str | None) -> None:
    """Note a failed attempt; with `final_status` (failed or dead) the event stops here."""
    with session_scope() as session:
        stored = session.get(WebhookEvent, event_id)
        if stored is None or stored.status != EventStatus.RECEIVED:
            return
        stored.attempts += 1
        stored.last_error = f"{type(error).__name__}: {error}"[:2000]
        if final_status is not None:
            stored.status = final_status
            stored.processed_at = utcnow()
        session.add(stored)
    log.warning("event_failed", event_id=event_id, error=type(error).__name__, final=final_status)


def claim_for_redrive(session: Session, limit: int = 500) -> list[str]:
    """Unprocessed events whose last enqueue is older than REDRIVE_AFTER_SECONDS."""
    cutoff = utcnow() - timedelta(seconds=get_settings().redrive_after_seconds)
    return claim_stale(session, cutoff, limit=limit)
