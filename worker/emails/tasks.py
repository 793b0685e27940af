"""Thin Celery shells for relink emails: ids in, retries decided here."""

from __future__ import annotations

from functools import partial

import structlog
from celery import Task, shared_task

from shared.db import outlasting_outages, session_scope
from shared.delivery import backoff
from shared.events.catalog import SEND_EMAIL, SWEEP_OUTBOX
from shared.metrics import SMTP_LOGINS_REFUSED
from shared.models import EmailOutbox
from shared.queue import publish
from shared.settings import get_settings
from worker.emails import claim, send
from worker.emails.transport import LoginRefused, TransportError
from worker.errors import TRANSIENT_ERRORS

log = structlog.get_logger(__name__)


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
        return send.send_outbox(outbox_id)
    except LoginRefused as exc:
        pause = get_settings().email_login_pause_seconds
        held = claim.hold_after_refused_login(outbox_id, exc, pause=pause)
        SMTP_LOGINS_REFUSED.inc()
        log.error("smtp_login_refused", error=str(exc), held=held, pause_seconds=pause)
        return "held"
    except (TransportError, *TRANSIENT_ERRORS) as exc:
        delay = backoff(_attempts(outbox_id, fallback=self.request.retries + 1))
        # Given back even across a database outage: a lost release would park the row in
        # `sending` until EMAIL_CLAIM_TIMEOUT_SECONDS.
        final = outlasting_outages(
            partial(claim.release, outbox_id, exc, retry_in=delay),
            patience=send.OUTAGE_PATIENCE_SECONDS,
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
