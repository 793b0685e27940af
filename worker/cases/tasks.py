"""Thin Celery shells for cases: reconcile one authorization, and the stale-case sweep."""

from __future__ import annotations

import structlog
from celery import Task, shared_task

from shared.db import session_scope
from shared.events.catalog import ASSESS_MONEY_AT_STAKE, RECONCILE_AUTHORIZATION, SWEEP_STALE_CASES
from shared.queue import publish
from shared.settings import get_settings
from worker.cases import reconcile, sweeps
from worker.errors import TRANSIENT_ERRORS, backoff
from worker.money.service import broken_case_ids

log = structlog.get_logger(__name__)

MAX_RECONCILE_RETRIES = 8


@shared_task(name=RECONCILE_AUTHORIZATION, bind=True, max_retries=MAX_RECONCILE_RETRIES)
def reconcile_authorization(
    self: Task, authorization_id: str, trigger: str = reconcile.RELINK, stripe_account: str = ""
) -> str:
    """Reconcile after a successful relink (the api) or for a sweep, on the authorization's
    Stripe account; Stripe and database hiccups are retried with backoff (the stale-case sweep
    catches what is given up)."""
    try:
        return reconcile.run_reconciliation(authorization_id, trigger, stripe_account)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= MAX_RECONCILE_RETRIES:
            log.warning("reconcile_given_up", authorization_id=authorization_id)
            return "failed"
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


@shared_task(name=SWEEP_STALE_CASES)
def sweep_stale_cases() -> int:
    """Queue a reconciliation of each open case not heard of for a while (bounded batch), and
    a fresh read of the money at stake of those still broken."""
    with session_scope() as session:
        authorization_ids = sweeps.claim_stale_cases(session)
        money = get_settings().money_at_stake
        case_ids = broken_case_ids(session, authorization_ids) if money else []
    for stripe_account, authorization_id in authorization_ids:
        publish(RECONCILE_AUTHORIZATION, [authorization_id, reconcile.SWEEP, stripe_account])
    for case_id in case_ids:
        publish(ASSESS_MONEY_AT_STAKE, [case_id])
    if authorization_ids:
        log.info("stale_cases_swept", queued=len(authorization_ids))
    return len(authorization_ids)
