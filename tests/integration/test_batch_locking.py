"""Two batches that share authorizations, on PostgreSQL, at once: each locks the
authorizations it touches up front and in id order, so one waits for the other instead of
both deadlocking (PostgreSQL would abort one, and its events would be deferred)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import orjson
import psycopg
import pytest

from shared.db import get_engine, session_scope
from shared.events.inbox import EventHeader, InboxItem, record_events
from shared.settings import get_settings
from tests.factories import event, fc_account
from worker.inbox import batch, handlers

DEACTIVATED = "financial_connections.account.deactivated"


@pytest.fixture
def on_postgresql(
    pg: psycopg.Connection, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv(
        "DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}"
    )
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield
    get_engine().dispose()
    get_engine.cache_clear()


def store(events: list[dict]) -> list[str]:  # type: ignore[type-arg]
    items = [
        InboxItem(
            EventHeader(e["id"], e["type"], e["created"], False, e["api_version"], None),
            orjson.dumps(e).decode(),
            handled=True,
        )
        for e in events
    ]
    with session_scope() as session:
        record_events(session, items, stale_after=timedelta(hours=1))
    return [e["id"] for e in events]


def test_batches_with_crossing_authorizations_wait_instead_of_deadlocking(
    on_postgresql: None, pg: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given batch one touching authorizations a then b, batch two b then a (by Stripe time),
    # each event slow enough that the two transactions overlap
    original = handlers.HANDLERS[DEACTIVATED]

    def slow(session, evt):  # type: ignore[no-untyped-def]
        original(session, evt)
        time.sleep(0.3)

    monkeypatch.setitem(handlers.HANDLERS, DEACTIVATED, slow)
    now = int(time.time())

    def deactivation(authorization: str, created: int) -> dict:  # type: ignore[type-arg]
        return event(obj=fc_account(authorization=authorization), created=created)

    one = store([deactivation("fcauth_a", now), deactivation("fcauth_b", now + 1)])
    two = store([deactivation("fcauth_b", now), deactivation("fcauth_a", now + 1)])
    results: dict[str, batch.BatchResult] = {}

    def run(name: str, ids: list[str]) -> None:
        results[name] = batch.process_batch(ids)

    threads = [
        threading.Thread(target=run, args=("one", one)),
        threading.Thread(target=run, args=("two", two)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then both committed every event: none deferred by a deadlock
    assert results["one"].to_retry == results["two"].to_retry == []
    assert pg.execute(
        "SELECT count(*) FROM webhook_event WHERE status = 'processed' AND attempts = 1"
    ).fetchone() == (4,)
    assert pg.execute("SELECT count(*) FROM relink_case").fetchone() == (2,)
    assert pg.execute("SELECT count(*) FROM email_outbox").fetchone() == (2,)
