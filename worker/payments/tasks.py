"""Thin Celery shells for switching to a new PaymentMethod, and the sweep that queues a
switch again when its task was lost."""

from __future__ import annotations

import structlog
from celery import Task, shared_task

from shared.events.catalog import SWEEP_PAYMENT_SWITCHES, SWITCH_PAYMENT_METHOD
from shared.queue import publish
from shared.settings import get_settings
from worker.errors import TRANSIENT_ERRORS, backoff
from worker.payments import service

log = structlog.get_logger(__name__)

MAX_SWITCH_RETRIES = 8


@shared_task(name=SWITCH_PAYMENT_METHOD, bind=True, max_retries=MAX_SWITCH_RETRIES)
def switch_payment_method(self: Task, switch_id: int) -> str:
    """Run the switch; a Stripe or database hiccup is retried with backoff, and the retry
    sends only the writes not yet made, with the same Idempotency-Keys."""
    last_try = self.request.retries >= MAX_SWITCH_RETRIES
    try:
        return service.switch_payment_method(switch_id, last_try=last_try)
    except service.SwitchInterrupted as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    except TRANSIENT_ERRORS as exc:  # the database, before or after the Stripe writes
        if last_try:
            log.warning("payment_method_switch_given_up", switch_id=switch_id)
            service.give_up(switch_id, type(exc).__name__)
            return "failed"
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


@shared_task(name=SWEEP_PAYMENT_SWITCHES)
def sweep_payment_switches() -> int:
    """Queue again every switch pending longer than a sweep interval."""
    every = get_settings().payment_method_switch_sweep_every_seconds
    switch_ids = service.pending_switch_ids(older_than_seconds=every)
    for switch_id in switch_ids:
        publish(SWITCH_PAYMENT_METHOD, [switch_id])
    if switch_ids:
        log.info("payment_switches_swept", queued=len(switch_ids))
    return len(switch_ids)
