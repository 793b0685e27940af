"""Rate limiting, injected faults and the request log."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import stripe

from sim.testing import SimServer
from tests.sim.conftest import GA

SdkFactory = Callable[..., stripe.StripeClient]


def test_rate_limit_answers_429_rate_limit(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any]
) -> None:
    sim.client.set_rate_limit(5)
    client = sdk(GA)
    for _ in range(5):
        client.v1.customers.retrieve(customer["id"])
    with pytest.raises(stripe.RateLimitError) as raised:
        client.v1.customers.retrieve(customer["id"])
    assert raised.value.http_status == 429
    # the SDK builds RateLimitError without `code`; the envelope still carries it
    assert raised.value.json_body is not None
    assert raised.value.json_body["error"]["code"] == "rate_limit"
    assert raised.value.json_body["error"]["type"] == "invalid_request_error"
    time.sleep(1.05)
    assert client.v1.customers.retrieve(customer["id"]).id == customer["id"]


def test_rate_limit_zero_is_off(sim: SimServer, sdk: SdkFactory, customer: dict[str, Any]) -> None:
    sim.client.set_rate_limit(0)
    client = sdk(GA)
    for _ in range(40):
        client.v1.customers.retrieve(customer["id"])
    assert sim.client.request_counts()["GET /v1/customers/{id}"] == 40


def test_control_plane_is_not_rate_limited(sim: SimServer) -> None:
    sim.client.set_rate_limit(1)
    for _ in range(5):
        sim.client.create_customer()
    assert len(sim.client.events()) == 0


def test_error_rate_one_gives_api_error(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any]
) -> None:
    sim.client.set_faults(error_rate=1.0)
    with pytest.raises(stripe.APIError) as raised:
        sdk(GA).v1.customers.retrieve(customer["id"])
    assert raised.value.http_status == 500
    assert raised.value.json_body is not None
    assert raised.value.json_body["error"]["type"] == "api_error"
    sim.client.set_faults()
    assert sdk(GA).v1.customers.retrieve(customer["id"]).email == "holder@example.com"


def test_partial_error_rate_fails_some_requests(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any]
) -> None:
    sim.client.set_faults(error_rate=0.5)
    outcomes = []
    for _ in range(60):
        try:
            sdk(GA).v1.customers.retrieve(customer["id"])
            outcomes.append("ok")
        except stripe.APIError:
            outcomes.append("error")
    assert 5 < outcomes.count("error") < 55


def test_dropped_connection_is_an_api_connection_error(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any]
) -> None:
    sim.client.set_faults(drop_rate=1.0)
    with pytest.raises(stripe.APIConnectionError):
        sdk(GA).v1.customers.retrieve(customer["id"])


def test_slow_responses(sim: SimServer, sdk: SdkFactory, customer: dict[str, Any]) -> None:
    sim.client.set_faults(slow_s=0.3)
    started = time.monotonic()
    sdk(GA).v1.customers.retrieve(customer["id"])
    assert time.monotonic() - started >= 0.3


def test_request_log_records_what_was_sent(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any]
) -> None:
    client = sdk("2026-09-30.preview")
    client.v1.financial_connections.accounts.list(
        params={"account_holder": {"customer": customer["id"]}, "limit": 3}
    )
    client.v1.customers.retrieve(customer["id"])
    [listed] = sim.client.requests("/v1/financial_connections/accounts")
    assert listed["method"] == "GET"
    assert listed["params"] == {"account_holder": {"customer": customer["id"]}, "limit": "3"}
    assert listed["stripe_version"] == "2026-09-30.preview"
    assert listed["status"] == 200
    assert listed["idempotency_key"] is None
    assert len(sim.client.requests()) == 2
    counts = sim.client.request_counts()
    assert counts == {
        "GET /v1/financial_connections/accounts": 1,
        "GET /v1/customers/{id}": 1,
    }
    sim.client.clear_requests()
    assert sim.client.requests() == []


def test_reset_forgets_everything(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any]
) -> None:
    sim.client.create_authorization({"type": "customer", "customer": customer["id"]})
    sim.client.set_rate_limit(1)
    sim.client.reset()
    assert sim.client.events() == []
    with pytest.raises(stripe.InvalidRequestError):
        sdk(GA).v1.customers.retrieve(customer["id"])
    assert len(sim.client.requests()) == 1
