"""What relink tells the platform, written in the transaction of the change: the simulator
as Stripe, events fed through the real process_event on SQLite (tests/cases/world.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from shared.cases.links import read_link
from shared.db import session_scope, utcnow
from shared.models import EmailOutbox
from shared.platform_webhooks import events as platform_events
from shared.platform_webhooks.models import PlatformEvent
from sim.testing import SimServer
from tests.cases.world import cases, events_of, feed, new_authorization, outbox_rows, relink
from tests.platform_webhooks.receiver import SECRET
from worker.emails import send

DEACTIVATED = "financial_connections.account.deactivated"
NUMBERS_UPDATED = "financial_connections.account.account_numbers_updated"
PLATFORM = {"PLATFORM_WEBHOOK_URL": "http://127.0.0.1:9/hooks", "PLATFORM_WEBHOOK_SECRETS": SECRET}


@pytest.fixture
def sim_env() -> dict[str, str]:
    return PLATFORM


def written() -> list[tuple[str, str, int, dict[str, Any]]]:
    """(type, sequence key, sequence, data) of every platform event, in the order written."""
    with session_scope() as session:
        rows = session.exec(select(PlatformEvent).order_by(PlatformEvent.id)).all()
        return [
            (r.type, r.sequence_key, r.sequence, json.loads(platform_events.body(r))["data"])
            for r in rows
        ]


def types() -> list[str]:
    return [event_type for event_type, *_ in written()]


def test_a_deactivation_writes_each_status_change_once_and_one_case_opened_with_its_link(
    sim: SimServer,
) -> None:
    auth = new_authorization(sim)
    sim.client.deactivate_authorization(auth.id)
    deactivations = events_of(sim, auth, DEACTIVATED)
    for event in [deactivations[2], deactivations[0], deactivations[2], deactivations[1]]:
        feed(event)
    for event in deactivations:  # replays of the same snapshots change nothing
        feed(event)

    events = written()
    changes = [e for e in events if e[0] == "relink.account.status_changed"]
    assert sorted(data["account"]["id"] for *_, data in changes) == sorted(auth.accounts)
    assert all(seq == 1 and key.startswith("account:") for _, key, seq, _ in changes)
    account = changes[0][3]["account"]
    assert (account["status"], account["previous_status"]) == ("inactive", None)  # first seen
    assert account["inactive"] == {"cause": "access_expired", "action": "relink_required"}
    [opened] = [e for e in events if e[0] == "relink.case.opened"]
    [case] = cases()
    assert opened[1:3] == (f"case:{case.id}", 1)
    data = opened[3]
    assert data["case"]["id"] == case.id
    assert data["case"]["state"] == "open"
    assert data["account_holder"] == {"type": "customer", "id": auth.customer}
    link = read_link(data["link"].rsplit("/", 1)[1])
    assert (link.case_id, link.authorization_id) == (case.id, auth.id)
    assert data["link_expires_at"] > utcnow().isoformat()


def test_an_older_snapshot_changes_nothing_and_the_resolution_follows_in_sequence(
    sim: SimServer,
) -> None:
    auth = new_authorization(sim, n_accounts=1)
    sim.client.deactivate_authorization(auth.id)
    for event in events_of(sim, auth):
        feed(event)
    relink(sim, auth)
    for event in events_of(sim, auth):
        feed(event)
    before = written()
    for event in events_of(sim, auth, DEACTIVATED):  # late and older: nothing changes
        feed(event)
    assert written() == before

    [case] = cases()
    case_events = [(t, s, d) for t, key, s, d in before if key == f"case:{case.id}"]
    assert [(t, s) for t, s, _ in case_events] == [
        ("relink.case.opened", 1),
        ("relink.case.resolved", 2),
    ]
    assert case_events[1][2]["case"]["resolution"] == "reactivated"
    statuses = [d["account"]["status"] for t, _, _, d in before if t.startswith("relink.account")]
    assert statuses == ["inactive", "active"]


def test_action_none_makes_an_unrepairable_case_event_without_a_link(sim: SimServer) -> None:
    auth = new_authorization(sim, n_accounts=1)
    sim.client.deactivate_authorization(auth.id, cause="account_closed", action="none")
    for event in events_of(sim, auth):
        feed(event)
    assert types() == ["relink.account.status_changed", "relink.case.unrepairable"]
    assert "link" not in written()[1][3]


class TestWebhookDelivery:
    @pytest.fixture
    def sim_env(self) -> dict[str, str]:
        return {**PLATFORM, "DELIVERY": "webhook"}

    def test_relink_never_emails_and_reminders_reach_the_platform_with_the_link(
        self, sim: SimServer, tmp_path: Path
    ) -> None:
        auth = new_authorization(sim, n_accounts=1)
        sim.client.deactivate_authorization(auth.id)
        for event in events_of(sim, auth):
            feed(event)
        [first] = outbox_rows()
        assert send.send_outbox(first.id) == "handed_over"  # type: ignore[arg-type]
        rows = outbox_rows()
        assert [r.kind for r in rows] == ["relink", "reminder", "reminder"]
        with session_scope() as session:  # the first reminder is due
            reminder = session.get(EmailOutbox, rows[1].id)
            assert reminder is not None
            reminder.send_after = utcnow()
            session.add(reminder)
        assert send.send_outbox(rows[1].id) == "handed_over"  # type: ignore[arg-type]

        assert not (tmp_path / "outbox").exists() or list((tmp_path / "outbox").iterdir()) == []
        [case] = cases()
        assert (case.state, case.emails_sent) == ("open", 0)
        assert case.next_reminder_at == rows[2].send_after
        [(_, key, seq, due)] = [e for e in written() if e[0] == "relink.case.reminder_due"]
        assert (key, seq, due["reason"]) == (f"case:{case.id}", 2, "reminder")
        assert read_link(due["link"].rsplit("/", 1)[1]).case_id == case.id


def test_a_connected_accounts_events_name_the_account_and_link_to_its_case(
    sim: SimServer,
) -> None:
    connected = sim.client.create_connected_account("platform@example.com")["id"]
    on_connected = sim.client.on_account(connected)
    customer = on_connected.create_customer("ada@example.com")["id"]
    auth = on_connected.create_authorization({"type": "customer", "customer": customer})
    on_connected.deactivate_account(auth["accounts"][0])
    for event in sim.client.events():
        feed(event)

    events = written()
    [changed] = [e for e in events if e[0] == "relink.account.status_changed"]
    assert changed[1] == f"account:{connected}:{auth['accounts'][0]}"
    assert changed[3]["account"]["stripe_account"] == connected
    [opened] = [e for e in events if e[0] == "relink.case.opened"]
    assert opened[3]["case"]["stripe_account"] == connected
    link = read_link(opened[3]["link"].rsplit("/", 1)[1])
    assert (link.stripe_account, link.authorization_id) == (connected, auth["id"])
    on_connected.close()


def test_a_payment_method_blocked_by_a_stopped_number_shows_on_the_case_and_reaches_the_platform(
    sim: SimServer,
) -> None:
    auth = new_authorization(sim, n_accounts=2)
    pm = sim.client.create_payment_method(auth.accounts[0], auth.customer)["id"]
    sim.client.create_payment_method(auth.accounts[1], auth.customer)  # its number still works
    sim.client.set_account_number_status(auth.accounts[0], "deactivated")
    [updated] = events_of(sim, auth, NUMBERS_UPDATED)
    feed(updated)
    feed(updated)  # a redelivery reads nothing new

    blocked = [
        {"id": pm, "reason": "tokenized_account_number_deactivated", "fc_account": auth.accounts[0]}
    ]
    [case] = cases()
    assert (case.state, case.blocked_payment_methods) == ("proactive", blocked)
    events = written()
    assert [e[0] for e in events if e[0].startswith("relink.payment_method")] == [
        "relink.payment_method.blocked"
    ]
    [(_, key, sequence, data)] = [e for e in events if e[0] == "relink.payment_method.blocked"]
    assert (key, sequence) == (f"case:{case.id}", 2)  # after the case's opening
    assert data["payment_methods"] == blocked
    assert data["case"]["blocked_payment_methods"] == blocked
    assert data["account_holder"] == {"type": "customer", "id": auth.customer}

    relink(sim, auth)  # a fresh number: unblocked at Stripe, the case resolves
    for event in events_of(sim, auth, NUMBERS_UPDATED)[1:]:
        feed(event)
    [case] = cases()
    assert (case.state, case.resolution) == ("resolved", "warning_cleared")
    assert "relink.payment_method.blocked" not in types()[len(events) :]
