"""A simulator, relink's own Stripe client pointed at it, and raw reads of what it serves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import stripe

from shared import ratelimit
from shared.settings import get_settings
from shared.stripe_client import make_stripe_client
from sim.testing import SimServer, run_sim_server

PREVIEW = "2026-09-30.preview"
GA = "2026-10-28.endive"

Read = Callable[..., dict[str, Any]]


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    with run_sim_server(rate_limit_per_second=0) as server:
        monkeypatch.setenv("STRIPE_API_BASE", server.base_url)
        monkeypatch.setenv("STRIPE_API_KEY", server.api_key)
        get_settings.cache_clear()
        ratelimit.reset_buckets()
        yield server
        ratelimit.reset_buckets()


@pytest.fixture
def client(sim: SimServer) -> stripe.StripeClient:
    """relink's workers' client (shared.stripe_client), on the simulator."""
    return make_stripe_client()


@pytest.fixture
def read(sim: SimServer) -> Read:
    """`read(method, path, version, **params)`: the JSON body the simulator answers, as is
    (no SDK object in between), asserting a 200."""

    def call(method: str, path: str, version: str = PREVIEW, **params: Any) -> dict[str, Any]:
        response = requests.request(
            method,
            f"{sim.base_url}{path}",
            headers={"Authorization": f"Bearer {sim.api_key}", "Stripe-Version": version},
            params=params if method == "GET" else None,
            data=params if method == "POST" else None,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    return call
