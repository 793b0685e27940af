"""Thin Celery shells around plain functions: ids in, retries and final states decided here."""

from __future__ import annotations

import random
from datetime import timedelta

import structlog
from celery import Task

from shared.db import session_scope, utcnow
from shared.models import EventStatus
from shared.retention import prune_payloads
from shared.settings import get_settings
from worker import processing
from worker.celery_app import (
    PROCESS_EVENT,
    PROCESS_EVENTS,
    PRUNE_INBOX,
    REDRIVE,
    app,
    enqueue_events,
)
from worker.errors import TRANSIENT_ERRORS, PermanentEventError

log = structlog.get_logger(__name__)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0


def backoff(retries: int) -> float:
    """Exponential backoff with full jitter, capped."""
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**retries))


@app.task(name=PROCESS_EVENT, bind=True, max_retries=None)
def process_event(self: Task, event_id: str) -> str:
    try:
        return processing.process_event(event_id)
    except PermanentEventError as exc:
        processing.record_failure(event_id, exc, final_status=EventStatus.FAILED)
        return EventStatus.FAILED
    except TRANSIENT_ERRORS as exc:
        last = self.request.retries + 1 >= get_settings().max_event_attempts
        try:
            processing.record_failure(
                event_id, exc, final_status=EventStatus.DEAD if last else None
            )
        except TRANSIENT_ERRORS:
            log.warning("failure_not_recorded", event_id=event_id)
        if last:
            return EventStatus.DEAD
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


@app.task(name=PROCESS_EVENTS)
def process_events(event_ids: list[str]) -> int:
    """Fan a batch from the receiver out to one process_event task per event."""
    for event_id in event_ids:
        process_event.apply_async(args=[event_id])
    return len(event_ids)


@app.task(name=REDRIVE)
def redrive() -> int:
    """Queue again inbox events whose task was lost (broker down, worker killed)."""
    event_ids = processing.claim_for_redrive()
    if event_ids:
        enqueue_events(event_ids)
    if event_ids:
        log.info("redrive", queued=len(event_ids))
    return len(event_ids)


@app.task(name=PRUNE_INBOX)
def prune_inbox() -> int:
    """Drop the payloads of old processed/ignored inbox events, one bounded batch per run."""
    settings = get_settings()
    cutoff = utcnow() - timedelta(days=settings.inbox_retention_days)
    with session_scope() as session:
        pruned = prune_payloads(session, cutoff, limit=settings.prune_batch_size)
    if pruned:
        log.info("inbox_pruned", events=pruned)
    return pruned
