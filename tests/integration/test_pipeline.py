"""The foundation end to end: uvicorn + celery + PostgreSQL + Redis, all real processes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import requests

from tests.conftest import WEBHOOK_SECRET
from tests.factories import body_of, event, fc_account, signature
from tests.integration.stack import RedisServer, Stack, TcpProxy, wait_until


def deliver(stack: Stack, body: bytes) -> requests.Response:
    return requests.post(
        f"{stack.base_url}/webhooks/stripe",
        data=body,
        headers={
            "Stripe-Signature": signature(body, WEBHOOK_SECRET),
            "Content-Type": "application/json",
        },
        timeout=30,
    )


def status_of(pg: psycopg.Connection, event_id: str) -> tuple[str, int] | None:
    return pg.execute(
        "SELECT status, attempts FROM webhook_event WHERE id = %s", (event_id,)
    ).fetchone()


def wait_processed(pg: psycopg.Connection, event_id: str, timeout: float = 30) -> None:
    wait_until(lambda: status_of(pg, event_id) == ("processed", 1), timeout, f"{event_id}")


def test_signed_event_is_processed_exactly_once(stack: Stack, pg: psycopg.Connection) -> None:
    stack.start_worker()
    account = fc_account()
    evt = event(obj=account)
    response = deliver(stack, body_of(evt))
    assert response.status_code == 200
    assert response.json()["outcome"] == "queued"
    wait_processed(pg, evt["id"])
    assert pg.execute(
        "SELECT status FROM fc_account WHERE id = %s", (account["id"],)
    ).fetchone() == ("inactive",)


def test_fifty_concurrent_deliveries_make_one_row_and_one_processing(
    stack: Stack, pg: psycopg.Connection
) -> None:
    stack.start_worker()
    stack.start_worker(beat=False)
    body = body_of(evt := event())
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda _: deliver(stack, body), range(50)))
    assert {r.status_code for r in responses} == {200}
    assert sum(r.json()["outcome"] == "queued" for r in responses) == 1
    wait_processed(pg, evt["id"])
    time.sleep(1.5)  # any duplicate processing would show up as attempts > 1
    assert pg.execute("SELECT count(*) FROM webhook_event").fetchone() == (1,)
    assert status_of(pg, evt["id"]) == ("processed", 1)


def test_broker_down_still_acknowledges_and_the_redrive_processes_it_later(
    stack: Stack, pg: psycopg.Connection, redis_server: RedisServer
) -> None:
    redis_server.stop()
    evt = event()
    response = deliver(stack, body_of(evt))
    assert response.status_code == 200
    assert response.json()["outcome"] == "stored"
    assert status_of(pg, evt["id"]) == ("received", 0)
    redis_server.start()
    stack.start_worker()
    wait_processed(pg, evt["id"])


def test_worker_killed_mid_task_is_finished_by_the_next_worker(
    stack: Stack, pg: psycopg.Connection, pg_database: str
) -> None:
    account = fc_account()
    now = int(time.time())  # the receiver refuses a `created` years away from now
    first = event(obj=account, created=now - 60)
    wait_for_first = stack.start_worker()
    deliver(stack, body_of(first))
    wait_processed(pg, first["id"])
    # Hold the account's row lock so the next task blocks inside its transaction.
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{pg_database}") as blocker:
        blocker.execute("SELECT 1 FROM fc_account WHERE id = %s FOR UPDATE", (account["id"],))
        second = event(
            "financial_connections.account.reactivated",
            obj={**account, "status": "active"},
            created=now - 30,
        )
        deliver(stack, body_of(second))
        wait_until(
            lambda: (
                pg.execute(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype IN "
                    "('transactionid', 'tuple')"
                ).fetchone()[0]
                > 0
            ),
            20,
            "the worker to block mid-task",
        )
        stack.kill_worker(wait_for_first)
        blocker.rollback()
    assert status_of(pg, second["id"]) == ("received", 0)
    stack.start_worker()
    wait_processed(pg, second["id"])
    assert pg.execute(
        "SELECT status FROM fc_account WHERE id = %s", (account["id"],)
    ).fetchone() == ("active",)


def test_database_down_answers_503_and_writes_nothing(
    stack: Stack, pg: psycopg.Connection, pg_proxy: TcpProxy
) -> None:
    stack.start_worker()
    evt = event()
    pg_proxy.cut()
    try:
        response = deliver(stack, body_of(evt))
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "database_unavailable"
        ready = requests.get(f"{stack.base_url}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["database"]["ok"] is False
        assert ready.json()["broker"]["ok"] is True
    finally:
        pg_proxy.restore()
    assert status_of(pg, evt["id"]) is None
    # Stripe retries; this time it lands and is processed once.
    assert deliver(stack, body_of(evt)).status_code == 200
    wait_processed(pg, evt["id"])


def test_readyz_reports_ready_and_stuck_events(stack: Stack, pg: psycopg.Connection) -> None:
    pg.execute(
        "INSERT INTO webhook_event (id, type, livemode, created, status, attempts, received_at)"
        " VALUES ('evt_stuck', 'financial_connections.account.deactivated', false, 1, "
        "'received', 0, now() - interval '10 minutes')"
    )
    ready = requests.get(f"{stack.base_url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["database"]["events_unprocessed_over_5m"] == 1


def test_migrations_on_postgresql_match_the_models(pg_database: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    from shared.db import make_engine

    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}")
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    engine.dispose()
