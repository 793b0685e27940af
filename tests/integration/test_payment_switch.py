"""Switching to the new PaymentMethod end to end: the relink page over real HTTP, the real
Celery worker (PostgreSQL, Redis) making the writes against the simulator through the SDK,
the platform told with a verified Standard Webhook."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from celery import Celery
from sqlalchemy import create_engine
from sqlmodel import Session

from shared.events.catalog import SWITCH_PAYMENT_METHOD
from shared.settings import get_settings
from sim.testing import SimServer
from tests.integration.stack import Stack, wait_until
from tests.payments.pages import billing_world, save_new_payment_method
from tests.platform_webhooks.receiver import OLD_SECRET, SECRET, Receiver
from tests.relink_page.world import World, build_world

SWITCH_ROUTES = {  # the calls only the switch makes
    "POST /v1/customers/{id}",
    "GET /v1/payment_methods",
    "GET /v1/subscriptions",
    "POST /v1/subscriptions/{id}",
    "POST /v1/payment_methods/{id}/detach",
}
WRITES = ("/v1/customers/", "/v1/subscriptions/", "/v1/payment_methods/")


class Http:
    """The relink page over real HTTP, shaped like the TestClient the page helpers take."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def post(self, path: str, data: dict[str, str] | None = None) -> requests.Response:
        return requests.post(f"{self.base_url}{path}", data=data, timeout=30)


@pytest.fixture
def stack_env(receiver: Receiver) -> dict[str, str]:
    return {
        "PAYMENT_METHOD_SWITCH": "customer_default,subscriptions",
        "PAGE_STRIPE_RATE_LIMIT": "1000",  # the page's Stripe budget is not under test here
        "PLATFORM_WEBHOOK_URL": receiver.url,
        "PLATFORM_WEBHOOK_SECRETS": f"{SECRET},{OLD_SECRET}",
        "PLATFORM_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
        "PLATFORM_WEBHOOK_SWEEP_EVERY_SECONDS": "1",
    }


def world_in_postgres(
    sim: SimServer, stack: Stack, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> World:
    monkeypatch.setenv("LINK_SIGNING_KEYS", stack.env["LINK_SIGNING_KEYS"])
    get_settings.cache_clear()
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}")
    with Session(engine) as db:
        world = build_world(sim.client, db)
        db.commit()
    engine.dispose()
    return world


def writes(sim: SimServer) -> list[dict[str, Any]]:
    return [
        r
        for r in sim.client.requests("/v1/")
        if r["method"] == "POST" and r["path"].startswith(WRITES)
    ]


def switch_of(pg: psycopg.Connection, case_id: int) -> tuple[Any, ...]:
    row = pg.execute(
        "SELECT id, status, attempts, steps, last_error FROM payment_method_switch "
        "WHERE case_id = %s",
        (case_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_the_worker_switches_once_even_when_the_task_runs_twice_and_tells_the_platform(
    stack: Stack,
    sim: SimServer,
    receiver: Receiver,
    pg: psycopg.Connection,
    pg_database: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    stack.start_worker()
    world = world_in_postgres(sim, stack, pg_database, monkeypatch)
    billing = billing_world(sim, world)
    client: Any = Http(stack.base_url)
    new = save_new_payment_method(client, world, sim)

    def switched() -> list[dict[str, Any]]:
        return [p for p in receiver.payloads() if p["type"] == "relink.payment_method.switched"]

    wait_until(lambda: len(switched()) == 1, 60, "relink.payment_method.switched")
    [event] = switched()
    moved = sorted(billing[s] for s in ("active", "trialing", "past_due"))
    assert event["data"]["payment_method"] == new
    assert sorted(event["data"]["subscriptions"]) == moved
    assert event["data"]["replaces"] == {"account": world.accounts[0], "case": world.case_id}

    switch_id, status, attempts, steps, _ = switch_of(pg, world.case_id)
    assert (status, attempts, len(steps)) == ("switched", 1, 4)
    calls = Counter(r["route"] for r in sim.client.requests("/v1/") if r["route"] in SWITCH_ROUTES)
    print("stripe calls of the switch:", dict(calls))
    assert calls == {
        "POST /v1/customers/{id}": 1,
        "GET /v1/payment_methods": 1,
        "GET /v1/subscriptions": 1,
        "POST /v1/subscriptions/{id}": 3,
    }

    # the task again (a redelivered message, a second publish): no Stripe call at all
    before = len(sim.client.requests("/v1/"))
    broker = Celery(broker=stack.env["CELERY_BROKER_URL"])
    broker.send_task(SWITCH_PAYMENT_METHOD, args=[switch_id], queue="relink")
    worker_log = tmp_path / "worker0.log"
    wait_until(
        lambda: "payment_method_switch_done_before" in worker_log.read_text(errors="replace"),
        30,
        "the second run",
    )
    assert len(sim.client.requests("/v1/")) == before
    per_write = [(r["path"], r["idempotency_key"]) for r in writes(sim)]
    assert len(per_write) == len(set(per_write)) == 4  # one customer + three subscriptions

    assert sim.client.customer(world.customer)["invoice_settings"]["default_payment_method"] == new
    for status_name in ("active", "trialing", "past_due"):
        assert sim.client.subscription(billing[status_name])["default_payment_method"] == new
    assert sim.client.subscription(billing["canceled"])["default_payment_method"] == billing["old"]
    other = sim.client.subscription(billing["other_sub"])["default_payment_method"]
    assert other == billing["other_pm"]
    assert len(switched()) == 1


def test_a_500_on_one_write_is_retried_by_the_task_with_the_same_key(
    stack: Stack,
    sim: SimServer,
    receiver: Receiver,
    pg: psycopg.Connection,
    pg_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = world_in_postgres(sim, stack, pg_database, monkeypatch)
    billing = billing_world(sim, world)
    broken = f"/v1/subscriptions/{billing['trialing']}"
    sim.client.set_faults(error_rate=1.0, path_prefix=broken)
    stack.start_worker()
    new = save_new_payment_method(Http(stack.base_url), world, sim)  # type: ignore[arg-type]

    def refused() -> list[dict[str, Any]]:
        return [r for r in writes(sim) if r["path"] == broken and r["status"] == 500]

    wait_until(lambda: len(refused()) >= 6, 60, "two runs refused (the SDK retries twice)")
    _, status, _, steps, last_error = switch_of(pg, world.case_id)
    assert status == "pending"
    assert last_error == "APIError 500"
    assert ("default", world.customer) in {(s["step"], s["target"]) for s in steps}
    sim.client.set_faults()  # Stripe recovers: the next retry goes through
    wait_until(lambda: switch_of(pg, world.case_id)[1] == "switched", 60, "the switch")
    _, _, attempts, steps, last_error = switch_of(pg, world.case_id)
    assert attempts >= 3
    assert last_error is None
    to_broken = [r for r in writes(sim) if r["path"] == broken]
    assert {r["idempotency_key"] for r in to_broken} == {
        f"relink-case-{world.case_id}-sub-{billing['trialing']}-{new}"
    }
    assert [r["status"] for r in to_broken][-1] == 200
    customer_writes = [r for r in writes(sim) if r["path"].startswith("/v1/customers/")]
    assert [r["status"] for r in customer_writes] == [200]  # made once, never sent again
    assert sim.client.subscription(billing["trialing"])["default_payment_method"] == new
