"""Retention: old inbox payloads are dropped; the row (id, type, status) stays for dedupe."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from shared.models import EventStatus, WebhookEvent

PRUNABLE = (EventStatus.PROCESSED, EventStatus.IGNORED)


def prune_payloads(session: Session, older_than: datetime, *, limit: int) -> int:
    """Null the payload of at most `limit` processed or ignored events finished (or, for
    ignored ones, received) before `older_than`; return how many were pruned."""
    finished_at = func.coalesce(col(WebhookEvent.processed_at), col(WebhookEvent.received_at))
    batch = (
        select(WebhookEvent.id)
        .where(col(WebhookEvent.status).in_(PRUNABLE))
        .where(col(WebhookEvent.payload).is_not(None))
        .where(finished_at < older_than)
        .limit(limit)
    )
    result = session.execute(
        update(WebhookEvent)
        .where(col(WebhookEvent.id).in_(batch.scalar_subquery()))
        .where(col(WebhookEvent.status).in_(PRUNABLE))
        .values(payload=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
