"""Thin Celery shell for reading a case's money at stake."""

from __future__ import annotations

import structlog
from celery import Task, shared_task

from shared.events.catalog import ASSESS_MONEY_AT_STAKE
from worker.errors import TRANSIENT_ERRORS, backoff
from worker.money import service

log = structlog.get_logger(__name__)

MAX_ASSESS_RETRIES = 5


@shared_task(name=ASSESS_MONEY_AT_STAKE, bind=True, max_retries=MAX_ASSESS_RETRIES)
def assess_money_at_stake(self: Task, case_id: int) -> int:
    """Read and store the case's money at stake; return how many currencies. Stripe and
    database hiccups are retried with backoff (the stale sweep reads it again anyway)."""
    try:
        figures = service.assess(case_id)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= MAX_ASSESS_RETRIES:
            log.warning("money_at_stake_given_up", case_id=case_id)
            return 0
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    return len(figures or {})
