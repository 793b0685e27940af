"""Thin Celery shells for relink emails: ids in, retries decided here."""

from __future__ import annotations

import random
from functools import partial

import structlog
from celery import Task, shared_task

from shared.catalog import SEND_EMAIL, SWEEP_OUTBOX
from shared.db import outlasting_outages, session_scope
from shared.models import EmailOutbox
from shared.queue import publish
from worker.emails import claim, outbox
from worker.emails.transport import TransportError
from worker.errors import BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS, TRANSIENT_ERRORS

log = structlog.get_logger(__name__)


def email_backoff(attempts: int) -> float:
    """Seconds before the next try of an outbox row that has been tried `attempts` times.

    Keyed on the row's own count, not the Celery retry count: the sweep publishes a due row
    as a fresh task (retries = 0), which would otherwise restart the backoff at ~2 s and burn
    MAX_EMAIL_ATTEMPTS within a minute of SMTP being down. Equal jitter (at least half the
    exponential delay) so that the attempts always span minutes, never seconds."""
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return base / 2 + random.uniform(0, base / 2) + 1.0


def _attempts(outbox_id: int, fallback: int) -> int:
    try:
        with session_scope() as session:
            row = session.get(EmailOutbox, outbox_id)
            return row.attempts if row is not None else fallback
    except TRANSIENT_ERRORS:
        return fallback


@shared_task(name=SEND_EMAIL, bind=True, max_retries=None)
def send_email(self: Task, outbox_id: int) -> str:
    """Send one outbox row; transport and Stripe hiccups are retried with backoff, the row
    due again when the retry runs (so the sweep does not jump the backoff)."""
    try:
        return outbox.send_outbox(outbox_id)
    except (TransportError, *TRANSIENT_ERRORS) as exc:
        delay = email_backoff(_attempts(outbox_id, fallback=self.request.retries + 1))
        # Given back even across a database outage: a lost release would park the row in
        # `sending` until EMAIL_CLAIM_TIMEOUT_SECONDS.
        final = outlasting_outages(
            partial(claim.release, outbox_id, exc, retry_in=delay),
            patience=outbox.OUTAGE_PATIENCE_SECONDS,
            what="email_release",
        )
        if final:
            return "failed"
        raise self.retry(exc=exc, countdown=delay) from exc


@shared_task(name=SWEEP_OUTBOX)
def sweep_outbox() -> int:
    """Publish every due outbox row, so an email whose task the broker lost still goes out."""
    with session_scope() as session:
        outbox_ids = claim.due_outbox_ids(session)
    for outbox_id in outbox_ids:
        publish(SEND_EMAIL, [outbox_id])
    if outbox_ids:
        log.info("outbox_swept", queued=len(outbox_ids))
    return len(outbox_ids)
