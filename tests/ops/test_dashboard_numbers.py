"""The dashboard's SQL against the seeded scenario on SQLite: every number known exactly."""

from __future__ import annotations

from sqlmodel import Session

from api.ops import service
from api.ops.formatting import duration, percent
from shared.db import get_engine, utcnow
from tests.ops.scenario import EMAILS_7, FUNNEL_7, OPEN_BY_AGE, REPAIR_7, seed


def test_the_seeded_week_gives_the_known_funnel_times_ages_and_emails(db: None) -> None:
    now = utcnow()
    with Session(get_engine()) as session:
        seed(session, now)
        session.commit()
        board = service.dashboard(session, 7, now)
    funnel = [(s.name, str(s.count), percent(s.conversion)) for s in board.funnel]
    assert funnel == FUNNEL_7
    for name, times in (
        ("deactivation", board.from_deactivation),
        ("first email", board.from_first_email),
    ):
        assert (str(times.count), duration(times.p50), duration(times.p90)) == REPAIR_7[name]
    assert board.from_deactivation.p50 == 3 * 3600
    assert board.from_first_email.p90 == 350 * 60
    assert dict(board.open_by_age) == OPEN_BY_AGE
    assert board.emails == EMAILS_7
    assert (board.inbox_waiting, board.inbox_lag_seconds) == (1, 300)
    assert [p["id"] for p in board.problems] == ["evt_ops_failed", "evt_ops_dead"]
    institutions = {row["key"]: row for row in board.by_institution}
    assert institutions["StripeBank"] == {
        "key": "StripeBank", "cases": 8, "repaired": 7, "gave_up": 1, "unrepairable": 0, "open": 1,
    }  # fmt: skip
    assert institutions["Gringotts"] == {
        "key": "Gringotts", "cases": 4, "repaired": 0, "gave_up": 0, "unrepairable": 1, "open": 3,
    }  # fmt: skip
    causes = {row["key"]: row["cases"] for row in board.by_cause}
    assert causes == {"access_expired": 10, "account_closed": 1, "institution_requirement": 1}
    assert sum(board.daily["deactivated"]) == 12
    assert sum(board.daily["repaired"]) == 7 - 1  # the saved new account has no resolved_at


def test_the_windows_widen_to_the_older_case(db: None) -> None:
    now = utcnow()
    with Session(get_engine()) as session:
        seed(session, now)
        session.commit()
        counts = {
            days: service.dashboard(session, days, now).funnel[0].count for days in (7, 30, 90)
        }
    assert counts == {7: 12, 30: 12, 90: 13}


def test_durations_read_as_an_operator_reads_them() -> None:
    assert [duration(s) for s in (None, 42, 300, 10200, 3 * 86400)] == [
        "-", "42 s", "5 min", "2.8 h", "3.0 d",
    ]  # fmt: skip
    assert percent(None) == "-"
    assert percent(100 * 11 / 12) == "91.7%"
