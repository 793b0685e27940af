"""Sweeps: stale open cases are claimed in bounded batches; the events backfill records what
the inbox lacks (and only that) so the normal flow follows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from shared.db import session_scope, utcnow
from shared.models import RelinkCase, WebhookEvent
from shared.settings import get_settings
from shared.stripe_client import make_stripe_client
from sim.testing import SimServer
from tests.cases.world import (
    cases,
    events_of,
    feed,
    new_authorization,
    outbox_rows,
)
from worker.cases import sweeps
from worker.inbox import service as processing


@pytest.fixture
def sim_env() -> dict[str, str]:
    return {"STALE_CASE_BATCH_SIZE": "2"}


def backfill() -> list[str]:
    settings = get_settings()
    now = utcnow()
    with session_scope() as session:
        since = sweeps.backfill_since(session, now=now, settings=settings)
    events = sweeps.fetch_events(make_stripe_client(settings), since, settings=settings)
    with session_scope() as session:
        return sweeps.record_missing_events(session, events, settings=settings)


def test_backfill_records_a_missed_deactivation_and_the_normal_flow_follows(
    sim: SimServer,
) -> None:
    auth = new_authorization(sim, n_accounts=2)
    sim.client.deactivate_authorization(auth.id)
    events = events_of(sim, auth)
    missed = events[-1]
    for event in events[:-1]:
        feed(event)
    assert len(outbox_rows()) == 1  # the first deactivation opened the case

    queued = backfill()

    assert queued == [missed["id"]]
    assert processing.process_event(missed["id"]) == "processed"
    assert backfill() == []  # nothing missing any more
    [case] = cases()
    assert case.state == "open"
    assert len(outbox_rows()) == 1


def test_backfill_with_an_empty_inbox_reaches_back_the_look_back(sim: SimServer) -> None:
    auth = new_authorization(sim, n_accounts=1)
    sim.client.deactivate_authorization(auth.id)
    queued = backfill()
    assert len(queued) == 2  # created, deactivated
    for event_id in queued:
        processing.process_event(event_id)
    assert [c.state for c in cases()] == ["open"]
    with session_scope() as session:
        assert len(session.exec(select(WebhookEvent)).all()) == 2


def test_stale_cases_are_claimed_oldest_first_in_bounded_batches(sim: SimServer) -> None:
    now = utcnow()
    with session_scope() as session:
        for n, state in enumerate(["open", "proactive", "no_contact", "resolved", "open"]):
            session.add(
                RelinkCase(
                    authorization_id=f"fcauth_{n}",
                    state=state,
                    last_heard_at=now - timedelta(days=1, minutes=n),
                )
            )
        session.add(RelinkCase(authorization_id="fcauth_fresh", last_heard_at=now))
    with session_scope() as session:
        first = sweeps.claim_stale_cases(session, now=now)
    with session_scope() as session:
        second = sweeps.claim_stale_cases(session, now=now)
    with session_scope() as session:
        third = sweeps.claim_stale_cases(session, now=now)
    assert first == ["fcauth_2", "fcauth_4"]
    assert second == ["fcauth_0", "fcauth_1"]
    assert third == []
