"""relink.backfill_events: the events the inbox lacks (and only those) are recorded and queued
for processing, so the normal flow follows; the task runs against the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from shared.db import session_scope
from shared.events.catalog import PROCESS_EVENT, PROCESS_EVENTS
from shared.models import WebhookEvent
from shared.settings import get_settings
from sim.testing import SimServer
from tests.cases.world import (
    cases,
    events_of,
    feed,
    new_authorization,
    outbox_rows,
    simulated_world,
)
from tests.conftest import Published
from worker.inbox import service as processing
from worker.inbox import tasks


@pytest.fixture
def sim(db: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SimServer]:
    with simulated_world(monkeypatch, EMAIL_URL=f"file://{tmp_path}/outbox") as server:
        yield server


def backfill(published: Published) -> list[str]:
    """Run the task; the inbox event ids it queued for processing (it returns their count)."""
    start = len(published)
    count = tasks.backfill_events()
    queued = [
        event_id
        for name, args in published[start:]
        if name in (PROCESS_EVENT, PROCESS_EVENTS)
        for event_id in ([args[0]] if name == PROCESS_EVENT else args[0])
    ]
    assert count == len(queued)
    return sorted(queued)


def test_backfill_records_a_missed_deactivation_and_the_normal_flow_follows(
    sim: SimServer, published: Published
) -> None:
    auth = new_authorization(sim, n_accounts=2)
    sim.client.deactivate_authorization(auth.id)
    events = events_of(sim, auth)
    missed = events[-1]
    for event in events[:-1]:
        feed(event)
    assert len(outbox_rows()) == 1  # the first deactivation opened the case

    queued = backfill(published)

    assert queued == [missed["id"]]
    assert processing.process_one(missed["id"]) == "processed"
    assert backfill(published) == []  # nothing missing any more
    [case] = cases()
    assert case.state == "open"
    assert len(outbox_rows()) == 1


def test_backfill_with_an_empty_inbox_reaches_back_the_look_back(
    sim: SimServer, published: Published
) -> None:
    auth = new_authorization(sim, n_accounts=1)
    sim.client.deactivate_authorization(auth.id)
    queued = backfill(published)
    assert len(queued) == 2  # created, deactivated
    for event_id in queued:
        processing.process_one(event_id)
    assert [c.state for c in cases()] == ["open"]
    with session_scope() as session:
        assert len(session.exec(select(WebhookEvent)).all()) == 2


def test_with_connect_each_known_connected_account_is_listed_on_its_own(
    sim: SimServer, published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_CONNECT", "true")
    monkeypatch.setenv("STRIPE_CONNECT_WEBHOOK_SECRETS", "whsec_test_connect")
    get_settings.cache_clear()
    connected = sim.client.create_connected_account("platform@example.com")["id"]
    on_connected = sim.client.on_account(connected)
    customer = on_connected.create_customer("ada@example.com")["id"]
    on_connected.create_authorization({"type": "customer", "customer": customer})
    for event in sim.client.events():
        feed(event)  # account.created: relink now knows the connected account
    [account] = [e["data"]["object"]["id"] for e in sim.client.events()]
    on_connected.deactivate_account(account)
    missed = sim.client.events()[-1]
    sim.client.clear_requests()

    assert backfill(published) == [missed["id"]]

    listed = [(r["path"], r["stripe_account"]) for r in sim.client.requests("/v1/")]
    assert listed == [("/v1/events", None), ("/v1/events", connected)]
    with session_scope() as session:
        stored = session.get(WebhookEvent, missed["id"])
        assert stored is not None
        assert stored.account == connected
    assert processing.process_one(missed["id"]) == "processed"
    [case] = cases()
    assert (case.stripe_account, case.state) == (connected, "open")
    on_connected.close()
