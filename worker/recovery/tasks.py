"""Thin Celery shells for paying again the invoices that failed on the broken account, and
the sweep that reads back the payments still processing and re-queues lost runs."""

from __future__ import annotations

import structlog
from celery import Task, shared_task

from shared.events.catalog import RECOVER_PAYMENTS, SWEEP_PAYMENT_RECOVERIES
from shared.queue import publish
from shared.settings import get_settings
from worker.errors import TRANSIENT_ERRORS, backoff
from worker.recovery import service

log = structlog.get_logger(__name__)

MAX_RECOVERY_RETRIES = 8


@shared_task(name=RECOVER_PAYMENTS, bind=True, max_retries=MAX_RECOVERY_RETRIES)
def recover_payments(self: Task, case_id: int, payment_method_id: str | None = None) -> int:
    """Pay the case's chosen invoices; a Stripe or database hiccup is retried with backoff,
    and the retry sends only the pay calls without an answer, with the same keys (the
    sweep picks up a run whose retries ran out)."""
    try:
        return service.recover_payments(case_id, payment_method_id)
    except (service.RecoveryInterrupted, *TRANSIENT_ERRORS) as exc:
        if self.request.retries >= MAX_RECOVERY_RETRIES:
            log.warning("payment_recovery_given_up", case_id=case_id)
            return 0
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


@shared_task(name=SWEEP_PAYMENT_RECOVERIES)
def sweep_payment_recoveries() -> int:
    """Read back the payments processing longer than a sweep interval; queue again the runs
    whose pay call has no answer."""
    every = get_settings().recovery_sweep_every_seconds
    ended = service.sweep(older_than_seconds=every)
    case_ids = service.paying_case_ids(older_than_seconds=every)
    for case_id in case_ids:
        publish(RECOVER_PAYMENTS, [case_id, None])
    if ended or case_ids:
        log.info("payment_recoveries_swept", ended=ended, requeued=len(case_ids))
    return ended
