"""Thin Celery shells for relink emails: ids in, retries decided here."""

from __future__ import annotations

import structlog
from celery import Task

from shared.db import session_scope
from worker import cases
from worker.celery_app import SEND_EMAIL, SEND_FRESH_LINK, SWEEP_OUTBOX, app
from worker.errors import TRANSIENT_ERRORS
from worker.mail import outbox
from worker.mail.transport import TransportError
from worker.tasks import backoff

log = structlog.get_logger(__name__)


@app.task(name=SEND_EMAIL, bind=True, max_retries=None)
def send_email(self: Task, outbox_id: int) -> str:
    """Send one outbox row; transport and Stripe hiccups are retried with backoff, the row
    due again when the retry runs (so the sweep does not jump the backoff)."""
    try:
        return outbox.send_outbox(outbox_id)
    except (TransportError, *TRANSIENT_ERRORS) as exc:
        delay = backoff(self.request.retries) + 1.0
        if outbox.release(outbox_id, exc, retry_in=delay):
            return "failed"
        raise self.retry(exc=exc, countdown=delay) from exc


@app.task(name=SWEEP_OUTBOX)
def sweep_outbox() -> int:
    """Publish every due outbox row, so an email whose task the broker lost still goes out."""
    with session_scope() as session:
        outbox_ids = outbox.due_outbox_ids(session)
    for outbox_id in outbox_ids:
        app.send_task(SEND_EMAIL, args=[outbox_id], retry=False)
    if outbox_ids:
        log.info("outbox_swept", queued=len(outbox_ids))
    return len(outbox_ids)


@app.task(name=SEND_FRESH_LINK)
def send_fresh_link(case_id: int) -> str:
    """Email a fresh link for an open case to the address on file (rate-limited)."""
    with session_scope() as session:
        outcome = cases.request_fresh_link(session, case_id)
    log.info("fresh_link", case_id=case_id, outcome=outcome)
    return outcome
