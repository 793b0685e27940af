"""Tokenized account numbers: an expiring (or stopped) number opens a proactive case for its
authorization with its own email, joins a case already open, and a transactable number
again (after the relink) resolves it."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from shared.models import OutboxStatus
from sim.testing import SimServer
from tests.cases.world import cases, feed_new, new_authorization, outbox_rows, relink
from worker.cases.core.standing import NUMBER_EXPIRY_CAUSE
from worker.emails import send

NEW_YEAR = 1798761600  # 1 January 2027, within PROACTIVE_HORIZON_DAYS


def sent(tmp_path: Path) -> list[tuple[str, str]]:
    """(subject, text body) of every email written."""
    found = []
    for path in sorted((tmp_path / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        found.append((str(message["Subject"]), " ".join(body.get_content().split())))
    return found


def test_an_expiring_number_opens_a_proactive_case_that_the_fresh_number_resolves(
    sim: SimServer, tmp_path: Path
) -> None:
    auth = new_authorization(sim, n_accounts=2)
    seen: set[str] = set()
    sim.client.mark_account_number_expiry(auth.accounts[0], expected_expiry_date=NEW_YEAR)
    feed_new(sim, seen, auth)
    [case] = cases()
    [row] = outbox_rows()
    assert (case.state, case.cause, case.account_id) == (
        "proactive",
        NUMBER_EXPIRY_CAUSE,
        auth.accounts[0],
    )
    assert row.kind == "proactive"

    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]
    [(subject, text)] = sent(tmp_path)
    assert subject == "Reconnect your First Platypus Bank account before January 1, 2027"
    assert (
        "The number we use for payments from your account at First Platypus Bank expires on "
        "January 1, 2027; reconnect before then" in text
    )
    assert "stop sharing" not in text  # not the expected-deactivation copy
    assert [r.kind for r in outbox_rows()] == ["proactive", "reminder", "reminder"]

    relink(sim, auth)  # the bank issues a fresh number: account_numbers_updated, transactable
    feed_new(sim, seen, auth)
    [case] = cases()
    assert (case.state, case.resolution) == ("resolved", "warning_cleared")
    assert [r.status for r in outbox_rows()] == [
        OutboxStatus.SENT,
        OutboxStatus.CANCELLED,
        OutboxStatus.CANCELLED,
    ]


def test_an_expiring_number_joins_the_case_already_open(sim: SimServer) -> None:
    auth = new_authorization(sim, n_accounts=2)
    seen: set[str] = set()
    sim.client.deactivate_account(auth.accounts[0])
    feed_new(sim, seen, auth)
    sim.client.mark_account_number_expiry(auth.accounts[1], expected_expiry_date=NEW_YEAR)
    feed_new(sim, seen, auth)
    [case] = cases()
    assert (case.state, case.account_id) == ("open", auth.accounts[0])
    assert [r.kind for r in outbox_rows()] == ["relink"]


def test_a_number_that_stopped_working_asks_for_a_relink_now(
    sim: SimServer, tmp_path: Path
) -> None:
    auth = new_authorization(sim, n_accounts=1)
    seen: set[str] = set()
    sim.client.set_account_number_status(auth.accounts[0], "deactivated")
    feed_new(sim, seen, auth)
    [case] = cases()
    assert (case.state, case.cause) == ("proactive", NUMBER_EXPIRY_CAUSE)
    [row] = outbox_rows()
    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]
    [(subject, text)] = sent(tmp_path)
    assert subject == "Reconnect your First Platypus Bank account to keep payments working"
    assert "has stopped working; reconnect now" in text

    sim.client.set_account_number_status(auth.accounts[0], "transactable")
    feed_new(sim, seen, auth)
    assert [(c.state, c.resolution) for c in cases()] == [("resolved", "warning_cleared")]
