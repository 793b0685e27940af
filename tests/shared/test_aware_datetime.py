"""Every datetime column reads back timezone-aware UTC, on SQLite too (which keeps no offset),
so code compares stored times with `utcnow()` without patching naive values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlmodel import col, select

from shared.db import session_scope
from shared.models import FcAuthorization, RelinkCase

PARIS_WINTER = timezone(timedelta(hours=1))


def test_an_aware_time_in_any_zone_reads_back_as_the_same_instant_in_utc(db: None) -> None:
    written = datetime(2026, 1, 2, 10, 0, 30, tzinfo=PARIS_WINTER)
    with session_scope() as session:
        session.add(RelinkCase(authorization_id="fcauth_1", opened_at=written))
    with session_scope() as session:
        case = session.exec(select(RelinkCase)).one()
    assert case.opened_at.tzinfo is UTC
    assert case.opened_at == written
    assert case.opened_at.hour == 9


def test_a_naive_time_is_taken_as_utc(db: None) -> None:
    with session_scope() as session:
        session.add(FcAuthorization(id="fcauth_1", reconciled_at=datetime(2026, 1, 2, 9, 0)))
    with session_scope() as session:
        authorization = session.exec(select(FcAuthorization)).one()
    assert authorization.reconciled_at == datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    assert authorization.updated_at.tzinfo is UTC


def test_queries_compare_instants_not_wall_clocks(db: None) -> None:
    with session_scope() as session:
        session.add(
            RelinkCase(
                authorization_id="fcauth_1",
                last_heard_at=datetime(2026, 1, 2, 10, 0, tzinfo=PARIS_WINTER),  # 09:00 UTC
            )
        )
    cutoff = datetime(2026, 1, 2, 9, 30, tzinfo=UTC)
    with session_scope() as session:
        before = session.exec(
            select(RelinkCase.id).where(col(RelinkCase.last_heard_at) < cutoff)
        ).all()
    assert len(before) == 1
