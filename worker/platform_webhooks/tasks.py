"""Thin Celery shells for platform webhooks: deliver one event, sweep the due ones."""

from __future__ import annotations

import random

import structlog
from celery import shared_task

from shared.db import session_scope, utcnow
from shared.events.catalog import DELIVER_PLATFORM_EVENT, SWEEP_PLATFORM_EVENTS
from shared.platform_webhooks import endpoint
from shared.queue import publish
from shared.settings import get_settings
from worker.platform_webhooks import repository, service

log = structlog.get_logger(__name__)


@shared_task(name=DELIVER_PLATFORM_EVENT)
def deliver_platform_event(event_id: int) -> str:
    """Deliver one event; when the endpoint's in-flight limit is reached, try again in a
    moment (the row stays `pending`; the sweep would also find it)."""
    outcome = service.deliver(event_id)
    if outcome == repository.BUSY:
        publish(DELIVER_PLATFORM_EVENT, [event_id], countdown=random.uniform(0.5, 2.0))
    return outcome


@shared_task(name=SWEEP_PLATFORM_EVENTS)
def sweep_platform_events() -> int:
    """Publish every due event, so a delivery whose task the broker lost still goes out, and
    release held events whose key has nothing else queued (the endpoint enabled)."""
    settings = get_settings()
    if not settings.platform_webhooks:
        return 0
    with session_scope() as session:
        now = utcnow()
        event_ids = repository.due_event_ids(session, now=now, settings=settings)
        endpoint.release_held(session, now=now)
    for event_id in event_ids:
        publish(DELIVER_PLATFORM_EVENT, [event_id])
    if event_ids:
        log.info("platform_events_swept", queued=len(event_ids))
    return len(event_ids)
