"""The relink page's fixtures, shared with tests/fuzz/ (which imports them): the simulator as
Stripe, the app over it, a deactivated authorization with its open case, and a clock for
the link's signing time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.relink_page import stripe_calls
from shared import ratelimit
from shared.db import session_scope
from shared.settings import get_settings
from sim.testing import SimServer, run_sim_server
from tests.relink_page.world import World, build_world


@pytest.fixture(scope="module")
def sim_server() -> Iterator[SimServer]:
    with run_sim_server(rate_limit_per_second=0) as server:
        yield server


@pytest.fixture
def sim(sim_server: SimServer, monkeypatch: pytest.MonkeyPatch) -> SimServer:
    """The simulator, emptied, with relink's Stripe settings pointed at it."""
    sim_server.client.reset()
    sim_server.client.clear_requests()
    sim_server.client.set_faults()
    monkeypatch.setenv("STRIPE_API_BASE", sim_server.base_url)
    monkeypatch.setenv("STRIPE_API_KEY", sim_server.api_key)
    monkeypatch.setenv("STRIPE_PUBLISHABLE_KEY", "pk_test_sim")
    monkeypatch.setenv("STRIPE_JS_URL", f"{sim_server.base_url}/_sim/stripe.js")
    monkeypatch.setenv("PAGE_STRIPE_RATE_LIMIT", "1000")  # the tests that limit it say so
    get_settings.cache_clear()
    return sim_server


@pytest.fixture
def client(db: None, sim: SimServer, published: list[Any]) -> Iterator[TestClient]:
    """The app; every rate-limit bucket (the per-case ones too) starts full."""
    ratelimit.reset_buckets()
    stripe_calls.reset()
    with TestClient(create_app(), follow_redirects=False) as test_client:
        yield test_client
    ratelimit.reset_buckets()
    stripe_calls.reset()


@pytest.fixture
def world(client: TestClient, sim: SimServer) -> World:
    with session_scope() as db:
        return build_world(sim.client, db)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The links' signing clock (seconds), frozen; advance it to age a token."""
    now = [1_800_000_000.0]
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: now[0])
    return now
