"""Thin Celery shell for switching to a new PaymentMethod."""

from __future__ import annotations

import structlog
from celery import Task, shared_task

from shared.catalog import SWITCH_PAYMENT_METHOD
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
