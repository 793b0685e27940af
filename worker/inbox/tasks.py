"""Thin Celery shells around plain functions: ids in, retries and final states decided here."""

from __future__ import annotations

from datetime import timedelta

import structlog
from celery import Task, shared_task

from shared.db import session_scope, utcnow
from shared.events.catalog import (
    BACKFILL_EVENTS,
    PROCESS_EVENT,
    PROCESS_EVENTS,
    PRUNE_INBOX,
    REDRIVE,
)
from shared.models import EventStatus
from shared.queue import events_task, publish, publish_after_commit
from shared.settings import Settings, get_settings
from shared.stripe_client import make_stripe_client
from worker.errors import TRANSIENT_ERRORS, backoff
from worker.inbox import backfill, batch
from worker.inbox import service as processing
from worker.inbox.batch import MAX_BATCH
from worker.inbox.retention import prune_payloads

log = structlog.get_logger(__name__)


@shared_task(name=PROCESS_EVENT, bind=True, max_retries=None)
def process_event(self: Task, event_id: str) -> str:
    try:
        return processing.process_one(event_id)
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


@shared_task(name=PROCESS_EVENTS)
def process_events(event_ids: list[str]) -> int:
    """A batch from the receiver (or the redrive), MAX_BATCH events per transaction. An event
    that failed transiently, or every event of a batch whose transaction failed (the database
    went away), goes to its own process_event task, which retries it with backoff."""
    done = 0
    for start in range(0, len(event_ids), MAX_BATCH):
        chunk = event_ids[start : start + MAX_BATCH]
        try:
            result = batch.process_batch(chunk)
        except TRANSIENT_ERRORS as exc:
            log.warning("batch_deferred", events=len(chunk), error=type(exc).__name__)
            result = batch.BatchResult(errors=dict.fromkeys(chunk, exc))
        for event_id in result.to_retry:
            publish(PROCESS_EVENT, [event_id], countdown=backoff(0))
        done += len(result.statuses)
    return done


@shared_task(name=REDRIVE)
def redrive() -> int:
    """Queue again inbox events whose task was lost (broker down, worker killed)."""
    with session_scope() as session:
        event_ids = processing.claim_for_redrive(session)
        if event_ids:
            publish_after_commit(session, *events_task(event_ids))
    if event_ids:
        log.info("redrive", queued=len(event_ids))
    return len(event_ids)


@shared_task(name=PRUNE_INBOX)
def prune_inbox() -> int:
    """Drop the payloads of old processed/ignored inbox events, one bounded batch per run."""
    settings = get_settings()
    cutoff = utcnow() - timedelta(days=settings.inbox_retention_days)
    with session_scope() as session:
        pruned = prune_payloads(session, cutoff, limit=settings.prune_batch_size)
    if pruned:
        log.info("inbox_pruned", events=pruned)
    return pruned


@shared_task(name=BACKFILL_EVENTS)
def backfill_events() -> int:
    """Record and queue the `financial_connections.*` events the inbox lacks: the platform's,
    and with STRIPE_CONNECT each known connected account's (listed on that account)."""
    settings = get_settings()
    with session_scope() as session:
        accounts = backfill.accounts_to_backfill(session, settings)
    return sum(_backfill_account(settings, account) for account in accounts)


def _backfill_account(settings: Settings, stripe_account: str) -> int:
    with session_scope() as session:
        since = backfill.backfill_since(
            session, now=utcnow(), settings=settings, stripe_account=stripe_account
        )
    client = make_stripe_client(settings, stripe_account=stripe_account)
    events = backfill.fetch_events(client, since, settings=settings)
    with session_scope() as session:
        queued = backfill.record_missing_events(
            session, events, settings=settings, stripe_account=stripe_account
        )
        if queued:
            publish_after_commit(session, *events_task(queued))
    if queued:
        log.info("events_backfilled", queued=len(queued), since=since, account=stripe_account)
    return len(queued)
