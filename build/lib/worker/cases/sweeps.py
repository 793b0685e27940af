"""The stale-case sweep: open cases not heard of for STALE_CASE_AFTER_SECONDS are reconciled
from the API (a `reactivated` that never came), a bounded batch per run.

Missed webhooks of any kind are caught by the inbox's events backfill
(worker/inbox/backfill.py); due reminders need no sweep of their own: they are outbox rows,
and `relink.sweep_outbox` publishes every due row. Helpers here never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from shared.db import utcnow
from shared.models import OPEN_CASE_STATES, RelinkCase
from shared.settings import Settings, get_settings


def claim_stale_cases(
    session: Session, *, now: datetime | None = None, settings: Settings | None = None
) -> list[tuple[str, str]]:
    """(Stripe account, authorization) of open cases not heard of for
    STALE_CASE_AFTER_SECONDS, at most STALE_CASE_BATCH_SIZE, stamped as heard of now so the
    next run does not queue them again; the caller reconciles each on its account."""
    settings = settings or get_settings()
    now = now or utcnow()
    cutoff = now - timedelta(seconds=settings.stale_case_after_seconds)
    stale = (
        select(RelinkCase.id)
        .where(col(RelinkCase.state).in_(OPEN_CASE_STATES), col(RelinkCase.last_heard_at) < cutoff)
        .order_by(col(RelinkCase.last_heard_at))
        .limit(settings.stale_case_batch_size)
    )
    claimed = session.execute(
        update(RelinkCase)
        .where(col(RelinkCase.id).in_(stale.scalar_subquery()))
        .where(col(RelinkCase.last_heard_at) < cutoff)
        .values(last_heard_at=now)
        .returning(RelinkCase.stripe_account, RelinkCase.authorization_id)  # type: ignore[arg-type]
    )
    return sorted({(row[0], row[1]) for row in claimed})
