"""Reactivation on SQLite with the simulator as Stripe: one reconciliation for sibling events,
newest snapshot wins, the case closes once and its emails stop."""

from __future__ import annotations

import pytest

from shared.db import session_scope
from shared.models import OutboxStatus
from sim.testing import SimServer
from tests.cases.world import (
    call_counts,
    cases,
    events_of,
    feed,
    new_authorization,
    outbox_rows,
    relink,
    stored_accounts,
)
from worker.cases import reconcile
from worker.emails import send

DEACTIVATED = "financial_connections.account.deactivated"
REACTIVATED = "financial_connections.account.reactivated"


def test_three_sibling_reactivations_shuffled_and_duplicated_make_one_reconciliation(
    sim: SimServer,
) -> None:
    # given an authorization of three accounts, deactivated, its relink email sent
    auth = new_authorization(sim)
    sim.client.deactivate_authorization(auth.id)
    for event in events_of(sim, auth):
        feed(event)
    [row] = outbox_rows()
    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]
    assert [r.kind for r in outbox_rows()] == ["relink", "reminder", "reminder"]

    # when the relink succeeds and its three `reactivated` arrive shuffled, one twice
    relink(sim, auth)
    sim.client.clear_requests()
    reactivated = events_of(sim, auth, REACTIVATED)
    assert len(reactivated) == 3
    outcomes = [feed(e) for e in [reactivated[2], reactivated[0], reactivated[2], reactivated[1]]]

    # then one reconciliation, within the call target, closes the case and its reminders
    assert outcomes == ["processed", "processed", "processed", "processed"]
    counts = call_counts(sim)
    print("stripe calls for three sibling reactivations:", counts)
    assert counts["authorization"] <= 1, counts
    assert counts["list"] <= 1, counts
    assert counts["account"] <= 3, counts
    [case] = cases()
    assert (case.state, case.resolution, case.resolved_by) == (
        "resolved",
        "reactivated",
        reactivated[2]["id"],
    )
    assert [r.status for r in outbox_rows()] == ["sent", "cancelled", "cancelled"]
    assert {a.status for a in stored_accounts().values()} == {"active"}


def test_an_older_deactivation_after_a_newer_reactivation_reopens_nothing(sim: SimServer) -> None:
    auth = new_authorization(sim)
    sim.client.deactivate_authorization(auth.id)
    relink(sim, auth)
    events = events_of(sim, auth)
    late = [e for e in events if e["type"] == DEACTIVATED]
    for event in [e for e in events if e["type"] != DEACTIVATED] + late:
        feed(event)
    assert cases() == []
    assert outbox_rows() == []
    assert {a.status for a in stored_accounts().values()} == {"active"}


def test_a_missed_reactivation_is_caught_by_reconciling_from_the_api(sim: SimServer) -> None:
    auth = new_authorization(sim, n_accounts=2)
    sim.client.deactivate_authorization(auth.id)
    for event in events_of(sim, auth):
        feed(event)
    relink(sim, auth)  # its `reactivated` events never arrive

    assert reconcile.run_reconciliation(auth.id, reconcile.SWEEP) == "reconciled"

    [case] = cases()
    assert (case.state, case.resolution, case.resolved_by) == ("resolved", "sweep", "sweep")
    assert [r.status for r in outbox_rows()] == [OutboxStatus.CANCELLED]
    assert {a.status for a in stored_accounts().values()} == {"active"}


def test_a_second_reconciliation_within_the_window_reads_nothing_from_stripe(
    sim: SimServer,
) -> None:
    auth = new_authorization(sim)
    for event in events_of(sim, auth):
        feed(event)
    assert reconcile.run_reconciliation(auth.id) == "reconciled"
    sim.client.clear_requests()
    assert reconcile.run_reconciliation(auth.id) == "coalesced"
    assert call_counts(sim) == {"authorization": 0, "list": 0, "account": 0}


def test_reconciliation_finds_accounts_relink_never_stored(sim: SimServer) -> None:
    auth = new_authorization(sim, n_accounts=3)
    feed(events_of(sim, auth)[0])  # only one account.created arrived
    assert reconcile.run_reconciliation(auth.id) == "reconciled"
    assert set(stored_accounts()) == set(auth.accounts)
    counts = call_counts(sim)
    assert counts == {"authorization": 1, "list": 1, "account": 0}, counts


def test_a_deactivation_found_by_reconciling_opens_the_case(sim: SimServer) -> None:
    auth = new_authorization(sim, n_accounts=2)
    for event in events_of(sim, auth):
        feed(event)
    sim.client.deactivate_authorization(auth.id)  # its `deactivated` events never arrive
    reconcile.run_reconciliation(auth.id, reconcile.SWEEP)
    [case] = cases()
    assert case.state == "open"
    assert [r.kind for r in outbox_rows()] == ["relink"]


def test_reconnected_email_when_enabled(sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.settings import get_settings

    monkeypatch.setenv("RECONNECTED_EMAIL", "true")
    get_settings.cache_clear()
    auth = new_authorization(sim, n_accounts=1)
    sim.client.deactivate_authorization(auth.id)
    for event in events_of(sim, auth):
        feed(event)
    [row] = outbox_rows()
    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]
    relink(sim, auth)
    for event in events_of(sim, auth, REACTIVATED):
        feed(event)
    reconnected = [r for r in outbox_rows() if r.kind == "reconnected"]
    assert len(reconnected) == 1
    assert send.send_outbox(reconnected[0].id) == "sent"  # type: ignore[arg-type]
    with session_scope():
        [case] = cases()
    assert case.emails_sent == 2


def test_an_event_of_the_same_second_as_an_api_read_is_settled_by_asking_stripe(
    sim: SimServer,
) -> None:
    # given an account read from the API at Stripe time T (active)
    auth = new_authorization(sim, n_accounts=1)
    feed(events_of(sim, auth)[0])
    reconcile.run_reconciliation(auth.id)
    read_at = stored_accounts()[auth.accounts[0]].state_at
    # when a deactivation stamped the same second T arrives (time cannot order the two)
    sim.client.deactivate_account(auth.accounts[0])
    [deactivated] = events_of(sim, auth, DEACTIVATED)
    sim.client.clear_requests()
    feed({**deactivated, "created": read_at})
    # then Stripe is asked, its answer stored, and the case opened
    assert call_counts(sim)["account"] == 1
    assert stored_accounts()[auth.accounts[0]].status == "inactive"
    assert [c.state for c in cases()] == ["open"]
