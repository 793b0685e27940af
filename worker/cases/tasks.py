"""Thin Celery shells for reactivation: reconcile one authorization, and the sweeps."""

from __future__ import annotations

import structlog
from celery import Task, shared_task

from shared.catalog import BACKFILL_EVENTS, RECONCILE_AUTHORIZATION, SWEEP_STALE_CASES
from shared.db import session_scope, utcnow
from shared.queue import events_task, publish, publish_after_commit
from shared.settings import get_settings
from shared.stripe_client import make_stripe_client
from worker.cases import reconcile, sweeps
from worker.errors import TRANSIENT_ERRORS, backoff

log = structlog.get_logger(__name__)

MAX_RECONCILE_RETRIES = 8


@shared_task(name=RECONCILE_AUTHORIZATION, bind=True, max_retries=MAX_RECONCILE_RETRIES)
def reconcile_authorization(
    self: Task, authorization_id: str, trigger: str = reconcile.RELINK
) -> str:
    """Reconcile after a successful relink (the api) or for a sweep; Stripe and database
    hiccups are retried with backoff (the stale-case sweep catches what is given up)."""
    try:
        return reconcile.reconcile_authorization(authorization_id, trigger)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= MAX_RECONCILE_RETRIES:
            log.warning("reconcile_given_up", authorization_id=authorization_id)
            return "failed"
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


@shared_task(name=SWEEP_STALE_CASES)
def sweep_stale_cases() -> int:
    """Queue a reconciliation of each open case not heard of for a while (bounded batch)."""
    with session_scope() as session:
        authorization_ids = sweeps.claim_stale_cases(session)
    for authorization_id in authorization_ids:
        publish(RECONCILE_AUTHORIZATION, [authorization_id, reconcile.SWEEP])
    if authorization_ids:
        log.info("stale_cases_swept", queued=len(authorization_ids))
    return len(authorization_ids)


@shared_task(name=BACKFILL_EVENTS)
def backfill_events() -> int:
    """Record and queue the `financial_connections.*` events the inbox lacks."""
    settings = get_settings()
    now = utcnow()
    with session_scope() as session:
        since = sweeps.backfill_since(session, now=now, settings=settings)
    events = sweeps.fetch_events(make_stripe_client(settings), since, settings=settings)
    with session_scope() as session:
        queued = sweeps.record_missing_events(session, events, settings=settings)
        if queued:
            publish_after_commit(session, *events_task(queued))
    if queued:
        log.info("events_backfilled", queued=len(queued), since=since)
    return len(queued)
