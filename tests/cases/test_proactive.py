"""Relink ahead of breakage: a warning opens a proactive case with one "reconnect before"
email; it closes when the warning goes away, and a deactivation continues it."""

from __future__ import annotations

import email
import email.policy
import time
from pathlib import Path

from shared.models import OutboxStatus
from sim.testing import SimServer
from tests.cases.world import (
    cases,
    feed_new,
    new_authorization,
    outbox_rows,
    relink,
)
from worker.emails import send

UPCOMING = "financial_connections.account.upcoming_deactivation"
DATE_UPDATED = "financial_connections.account.expected_deactivation_date_updated"
REACTIVATED = "financial_connections.account.reactivated"


def sent_subjects(tmp_path: Path) -> list[str]:
    return [
        str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"])
        for p in sorted((tmp_path / "outbox").glob("*.eml"))
    ]


def test_an_account_warning_opens_a_proactive_case_with_one_dated_email(
    sim: SimServer, tmp_path: Path
) -> None:
    auth = new_authorization(sim, n_accounts=2)
    seen: set[str] = set()
    expected = 1798761600  # January 1, 2027
    sim.client.mark_upcoming_deactivation(auth.accounts[0], expected_deactivation_date=expected)
    feed_new(sim, seen, auth)
    [case] = cases()
    [row] = outbox_rows()
    assert (case.state, row.kind) == ("proactive", "proactive")

    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]
    assert sent_subjects(tmp_path) == [
        "Reconnect your First Platypus Bank account before January 1, 2027"  # en_US, by Babel
    ]
    assert [r.kind for r in outbox_rows()] == ["proactive", "reminder", "reminder"]


def test_the_warning_moving_away_stops_the_reminders(sim: SimServer) -> None:
    auth = new_authorization(sim, n_accounts=1)
    seen: set[str] = set()
    sim.client.mark_upcoming_deactivation(auth.accounts[0])
    feed_new(sim, seen, auth)
    [row] = outbox_rows()
    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]

    far = int(time.time()) + 400 * 86400  # beyond PROACTIVE_HORIZON_DAYS
    sim.client.mark_upcoming_deactivation(
        auth.accounts[0], expected_deactivation_date=far, events=[DATE_UPDATED.rsplit(".", 1)[1]]
    )
    feed_new(sim, seen, auth)

    [case] = cases()
    assert (case.state, case.resolution) == ("resolved", "warning_cleared")
    assert [r.status for r in outbox_rows()] == [
        OutboxStatus.SENT,
        OutboxStatus.CANCELLED,
        OutboxStatus.CANCELLED,
    ]


def test_a_warned_account_that_deactivates_anyway_gets_no_second_first_email(
    sim: SimServer,
) -> None:
    auth = new_authorization(sim, n_accounts=2)
    seen: set[str] = set()
    sim.client.mark_upcoming_deactivation(auth.accounts[0])
    feed_new(sim, seen, auth)
    [row] = outbox_rows()
    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]

    sim.client.deactivate_authorization(auth.id)
    feed_new(sim, seen, auth)

    [case] = cases()
    assert case.state == "open"
    assert [r.kind for r in outbox_rows()] == ["proactive", "reminder", "reminder"]

    relink(sim, auth)
    feed_new(sim, seen, auth)
    [case] = cases()
    assert (case.state, case.resolution) == ("resolved", "reactivated")
    assert [r.status for r in outbox_rows()][1:] == [OutboxStatus.CANCELLED] * 2


def test_relinking_a_warned_account_resolves_the_proactive_case(sim: SimServer) -> None:
    auth = new_authorization(sim, n_accounts=1)
    seen: set[str] = set()
    sim.client.mark_upcoming_deactivation(auth.accounts[0])
    feed_new(sim, seen, auth)
    relink(sim, auth)  # an active account's relink sends no event: the page's task reconciles
    from worker.cases import reconcile

    reconcile.run_reconciliation(auth.id)
    [case] = cases()
    assert (case.state, case.resolution) == ("resolved", "warning_cleared")
    assert [r.status for r in outbox_rows()] == [OutboxStatus.CANCELLED]


def test_an_authorization_warning_opens_one_proactive_case_for_all_its_accounts(
    sim: SimServer, tmp_path: Path
) -> None:
    auth = new_authorization(sim, n_accounts=3)
    seen: set[str] = set()
    feed_new(sim, seen, auth)
    sim.client.mark_authorization_upcoming_deactivation(auth.id)
    feed_new(sim, seen, auth)
    [case] = cases()
    [row] = outbox_rows()
    assert (case.state, row.kind) == ("proactive", "proactive")
    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]
    [message] = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in (tmp_path / "outbox").glob("*.eml")
    ]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert all(last4 in text for last4 in ("1111", "2222", "3333")), text
    assert "https://relink.example/relink/" in text


def test_a_warning_with_action_none_opens_nothing(sim: SimServer) -> None:
    auth = new_authorization(sim, n_accounts=1)
    seen: set[str] = set()
    sim.client.mark_upcoming_deactivation(auth.accounts[0], action="none")
    feed_new(sim, seen, auth)
    assert cases() == []


def test_a_relink_soon_after_a_reconciliation_reads_stripe_again(sim: SimServer) -> None:
    from worker.cases import reconcile

    auth = new_authorization(sim, n_accounts=2)
    seen: set[str] = set()
    sim.client.mark_authorization_upcoming_deactivation(auth.id)
    feed_new(sim, seen, auth)  # the authorization warning reconciles (within the window)
    relink(sim, auth)
    assert reconcile.run_reconciliation(auth.id, reconcile.RELINK) == "reconciled"
    [case] = cases()
    assert (case.state, case.resolution) == ("resolved", "warning_cleared")
