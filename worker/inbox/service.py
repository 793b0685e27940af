"""Process one inbox event exactly once in effect: a batch of one (worker/inbox/batch.py), so
its effects and its `processed` mark commit together, under a row lock, and a second delivery
of the task changes nothing. Failed attempts and final states are noted here."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlmodel import Session

from shared.db import session_scope, utcnow
from shared.events.inbox import claim_stale
from shared.models import EventStatus, WebhookEvent
from shared.settings import get_settings
from worker.inbox.batch import process_batch

log = structlog.get_logger(__name__)


def process_one(event_id: str) -> str:
    """Run the event's handler unless it already ran; return the event's status (`failed`
    for a permanent error). Any other error of its handler is raised, its effects rolled
    back, for the task to retry or give up."""
    structlog.contextvars.bind_contextvars(event_id=event_id)
    result = process_batch([event_id], wait=True)
    if event_id in result.errors:
        raise result.errors[event_id]
    if event_id in result.statuses:
        return result.statuses[event_id]
    with session_scope() as session:
        stored = session.get(WebhookEvent, event_id)
        if stored is None:
            log.warning("event_missing", event_id=event_id)
            return "missing"
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
