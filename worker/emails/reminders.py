"""Reminders: after REMINDER_DELAYS_DAYS from the first email, each at most once (its own
outbox key), cancelled with the case's other pending emails when the case resolves."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from shared.delivery import DeliveryStatus
from shared.emails.enqueue import add_email
from shared.models import EmailKind, EmailOutbox, RelinkCase
from shared.settings import get_settings


def schedule_reminders(
    session: Session,
    case: RelinkCase,
    *,
    sent_at: datetime,
    delays_days: list[float] | None = None,
) -> list[EmailOutbox]:
    """Write the case's reminder rows (those not yet written) and set `next_reminder_at`."""
    delays = get_settings().reminder_delays_days if delays_days is None else delays_days
    rows = []
    for number, days in enumerate(delays, start=1):
        row = add_email(
            session,
            case,
            EmailKind.REMINDER,
            send_after=sent_at + timedelta(days=days),
            key=f"reminder-{number}",
            now=sent_at,
        )
        if row is not None:
            rows.append(row)
    refresh_next_reminder(session, case)
    return rows


def refresh_next_reminder(session: Session, case: RelinkCase) -> None:
    session.flush()
    case.next_reminder_at = session.exec(
        select(func.min(EmailOutbox.send_after)).where(
            EmailOutbox.case_id == case.id,
            EmailOutbox.kind == EmailKind.REMINDER,
            EmailOutbox.status == DeliveryStatus.PENDING,
        )
    ).one()
    session.add(case)
