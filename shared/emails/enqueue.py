"""Writing relink emails into the outbox: one row per case and purpose, its send task published
after the commit. The worker's cases, the relink page and the operator CLI all write here;
the worker's emails domain sends the rows.

Helpers here never commit."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import relationship
from sqlmodel import Session, col, select

from shared.db import utcnow
from shared.events.catalog import SEND_EMAIL
from shared.ids import assign_id
from shared.models import OPEN_CASE_STATES, EmailKind, EmailOutbox, RelinkCase
from shared.queue import publish_after_commit
from shared.settings import get_settings

# Publish a send task with a countdown only when it is due this soon; later rows (reminders)
# are found by the beat sweep, so no long-eta message sits in the broker.
MAX_COUNTDOWN_SECONDS = 600.0

# The unit of work orders its INSERTs by relationship() alone: this one, used for nothing else,
# puts a new case before its emails when both wait for the same flush (their ids drawn ahead,
# shared/ids.py). Added once, at import, as the listeners in shared/queue.py are.
inspect(EmailOutbox).add_property("_after_case", relationship(RelinkCase))


def message_key(case_id: int, key: str) -> str:
    """The outbox idempotency key: one row per case and purpose, ever."""
    return f"relink-case-{case_id}-{key}"


def add_email(
    session: Session,
    case: RelinkCase,
    kind: EmailKind,
    *,
    send_after: datetime,
    key: str,
    now: datetime | None = None,
    new_case: bool = False,
) -> EmailOutbox | None:
    """Write the outbox row for (case, key) unless it exists; publish its send task after the
    commit when it is due soon. Returns the new row, or None if it was already there.
    `new_case`: the case was inserted in this transaction, so no row can exist (no query).
    The row is flushed with the others of the unit of work, unless its id is needed now."""
    assert case.id is not None
    message_id = message_key(case.id, key)
    if not new_case and _exists(session, message_id):
        return None
    now = now or utcnow()
    row = EmailOutbox(  # created_at given: pydantic inspects a default factory per call
        case_id=case.id, kind=kind, send_after=send_after, message_id=message_id, created_at=now
    )
    session.add(row)
    delay = max(0.0, (send_after - now).total_seconds())
    if delay <= MAX_COUNTDOWN_SECONDS:
        assign_id(session, row, "email_outbox")
        publish_after_commit(session, SEND_EMAIL, [row.id], countdown=delay or None)
    return row


def _exists(session: Session, message_id: str) -> bool:
    """An outbox row with this key, written or still to be flushed (no autoflush: the
    session's new rows are looked at instead)."""
    if any(isinstance(o, EmailOutbox) and o.message_id == message_id for o in session.new):
        return True
    with session.no_autoflush:
        found = session.exec(select(EmailOutbox.id).where(EmailOutbox.message_id == message_id))
        return found.first() is not None


def request_fresh_link(session: Session, case_id: int, *, now: datetime | None = None) -> str:
    """Write a fresh-link email for an open case to the address on file, at most one per
    FRESH_LINK_INTERVAL_SECONDS and FRESH_LINK_DAILY_CAP a day: the one path of the page's
    button and `relink emails resend`. Returns queued, rate_limited, daily_cap, not_open or
    missing."""
    now = now or utcnow()
    case = session.exec(
        select(RelinkCase).where(RelinkCase.id == case_id).with_for_update()
    ).first()
    if case is None:
        return "missing"
    if case.state not in OPEN_CASE_STATES:
        return "not_open"
    settings = get_settings()
    interval = settings.fresh_link_interval_seconds
    if (
        _fresh_links_since(session, case_id, now - timedelta(days=1))
        >= settings.fresh_link_daily_cap
    ):
        return "daily_cap"
    recent = session.exec(
        select(EmailOutbox.id).where(
            EmailOutbox.case_id == case_id,
            EmailOutbox.kind == EmailKind.FRESH_LINK,
            col(EmailOutbox.created_at) > now - timedelta(seconds=interval),
        )
    ).first()
    if recent is not None:
        return "rate_limited"
    # The key's time bucket also stops two racing requests (the unique message id).
    key = f"fresh-{int(now.timestamp()) // interval}"
    try:
        with session.begin_nested():
            row = add_email(session, case, EmailKind.FRESH_LINK, send_after=now, key=key, now=now)
    except IntegrityError:
        row = None
    if row is None:
        return "rate_limited"
    case.fresh_link_requested_at = now
    session.add(case)
    return "queued"


def _fresh_links_since(session: Session, case_id: int, since: datetime) -> int:
    return session.exec(
        select(func.count(col(EmailOutbox.id))).where(
            EmailOutbox.case_id == case_id,
            EmailOutbox.kind == EmailKind.FRESH_LINK,
            col(EmailOutbox.created_at) > since,
        )
    ).one()
