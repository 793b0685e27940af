"""`disconnected`: the account leaves the case; nothing repairable left → unrepairable, with
one "new payment method" email."""

from __future__ import annotations

from pathlib import Path

from sim.testing import SimServer
from tests.cases.world import (
    cases,
    events_of,
    feed,
    feed_new,
    new_authorization,
    outbox_rows,
)
from worker.emails import send


def test_disconnecting_one_of_three_keeps_the_case_on_the_others(sim: SimServer) -> None:
    auth = new_authorization(sim)
    seen: set[str] = set()
    sim.client.deactivate_authorization(auth.id)
    feed_new(sim, seen, auth)
    [case] = cases()
    sim.client.disconnect_account(case.account_id)  # type: ignore[arg-type]
    feed_new(sim, seen, auth)
    [after] = cases()
    assert after.state == "open"
    assert after.account_id != case.account_id
    assert [r.kind for r in outbox_rows()] == ["relink"]


def test_disconnecting_every_broken_account_makes_the_case_unrepairable_with_one_email(
    sim: SimServer, tmp_path: Path
) -> None:
    auth = new_authorization(sim, n_accounts=2)
    seen: set[str] = set()
    sim.client.deactivate_authorization(auth.id)
    feed_new(sim, seen, auth)
    [relink_row] = outbox_rows()
    assert send.send_outbox(relink_row.id) == "sent"  # type: ignore[arg-type]
    for account in auth.accounts:
        sim.client.disconnect_account(account)
    events = [e for e in events_of(sim, auth) if e["id"] not in seen]
    for event in [*events, *events]:  # each delivered twice
        feed(event)

    [case] = cases()
    assert case.state == "unrepairable"
    kinds = [(r.kind, r.status) for r in outbox_rows()]
    assert kinds == [
        ("relink", "sent"),
        ("reminder", "cancelled"),
        ("reminder", "cancelled"),
        ("unrepairable", "pending"),
    ]
    assert send.send_outbox(outbox_rows()[-1].id) == "sent"  # type: ignore[arg-type]
    [_, message] = sorted((tmp_path / "outbox").glob("*.eml"))
    text = message.read_text()
    assert "set up a new payment method" in text
    assert "/relink/" not in text


def test_disconnecting_the_broken_account_when_the_rest_works_resolves_the_case(
    sim: SimServer,
) -> None:
    auth = new_authorization(sim, n_accounts=2)
    seen: set[str] = set()
    sim.client.deactivate_account(auth.accounts[0])
    feed_new(sim, seen, auth)
    sim.client.disconnect_account(auth.accounts[0])
    feed_new(sim, seen, auth)
    [case] = cases()
    assert (case.state, case.resolution) == ("resolved", "disconnected")
    assert [r.status for r in outbox_rows()] == ["cancelled"]
