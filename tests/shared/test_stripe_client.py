"""Every Stripe request made through make_stripe_client takes a token from the shared `stripe`
bucket, and a 429 that still happens is retried after a backoff instead of failing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from requests.structures import CaseInsensitiveDict

from shared import ratelimit, stripe_client
from shared.settings import get_settings
from shared.stripe_client import RATE_LIMITED_RETRIES, RateLimitedRequestsClient
from sim.testing import SimServer, run_sim_server


@pytest.fixture(autouse=True)
def fresh_buckets() -> Iterator[None]:
    ratelimit.reset_buckets()
    yield
    ratelimit.reset_buckets()


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    with run_sim_server(rate_limit_per_second=0) as server:
        monkeypatch.setenv("STRIPE_API_BASE", server.base_url)
        monkeypatch.setenv("STRIPE_API_KEY", server.api_key)
        get_settings.cache_clear()
        yield server


def answers(*statuses: tuple[int, dict[str, str]]) -> Any:
    """A fake transport answering these (status, headers) in turn; records each call."""
    pending = list(statuses)
    calls: list[str] = []

    def send(method: str, url: str, headers: Any, post_data: Any = None) -> Any:
        calls.append(url)
        status, response_headers = pending.pop(0)
        return b"{}", status, CaseInsensitiveDict(response_headers)

    send.calls = calls  # type: ignore[attr-defined]
    return send


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    taken: list[str] = []
    monkeypatch.setattr(stripe_client, "acquire", lambda name, **_: taken.append(name))
    return taken


def limited(send: Any, slept: list[float]) -> Any:
    client = RateLimitedRequestsClient(sleep=slept.append)
    return client._limited(send, "GET", "https://api.stripe.test/v1/x", {}, None)


def test_a_429_is_retried_after_backoff_and_each_try_takes_a_token(tokens: list[str]) -> None:
    send = answers((429, {}), (429, {"Stripe-Should-Retry": "true"}), (200, {}))
    slept: list[float] = []
    _, status, _ = limited(send, slept)
    assert status == 200
    assert tokens == ["stripe"] * 3
    assert len(slept) == 2
    assert 0.25 <= slept[0] <= 0.5  # jittered, doubling
    assert 0.5 <= slept[1] <= 1.0


def test_stripe_should_retry_false_is_honoured(tokens: list[str]) -> None:
    slept: list[float] = []
    _, status, _ = limited(answers((429, {"Stripe-Should-Retry": "false"})), slept)
    assert status == 429
    assert slept == []


def test_429_retries_are_bounded(tokens: list[str]) -> None:
    send = answers(*[(429, {})] * (RATE_LIMITED_RETRIES + 1))
    slept: list[float] = []
    _, status, _ = limited(send, slept)
    assert status == 429
    assert len(send.calls) == RATE_LIMITED_RETRIES + 1
    assert max(slept) <= stripe_client.RATE_LIMITED_BACKOFF_CAP


@pytest.mark.parametrize("status", [200, 400, 404, 500])
def test_other_answers_pass_through_untouched(tokens: list[str], status: int) -> None:
    slept: list[float] = []
    assert limited(answers((status, {})), slept)[1] == status
    assert slept == []
    assert tokens == ["stripe"]


def test_make_stripe_client_goes_through_the_limiter(
    sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a Stripe limit of 10/s (a burst of 1)
    monkeypatch.setenv("STRIPE_RATE_LIMIT", "10")
    get_settings.cache_clear()
    taken: list[str] = []
    real_acquire = stripe_client.acquire

    def counting_acquire(name: str, **kwargs: Any) -> float:
        taken.append(name)
        return real_acquire(name, **kwargs)

    monkeypatch.setattr(stripe_client, "acquire", counting_acquire)
    client = stripe_client.make_stripe_client()
    assert isinstance(client._requestor._client, RateLimitedRequestsClient)
    # when it makes 6 requests
    started = time.monotonic()
    for _ in range(6):
        client.v1.financial_connections.accounts.list()
    elapsed = time.monotonic() - started
    # then each took a token, and they were spread at 10/s: (6 - 1) / 10 s at least
    assert taken == ["stripe"] * 6
    assert elapsed >= 0.45
    assert len(sim.client.requests("/v1/financial_connections/accounts")) == 6


def test_a_429_from_stripe_is_not_a_failure(
    sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given Stripe (the simulator) allowing 3 requests/s while relink thinks it may send 100
    monkeypatch.setenv("STRIPE_RATE_LIMIT", "100")
    get_settings.cache_clear()
    sim.client.set_rate_limit(3)
    client = stripe_client.make_stripe_client()
    # when relink sends 5 requests at once
    for _ in range(5):
        client.v1.financial_connections.accounts.list()  # raises RateLimitError if not retried
    # then Stripe answered some with 429, and every call still succeeded
    statuses = [entry["status"] for entry in sim.client.requests("/v1/")]
    assert 429 in statuses
    assert statuses.count(200) == 5


def test_sdk_does_not_retry_a_bare_429_by_itself() -> None:
    """Why the client retries 429s itself: the SDK only does with Stripe-Should-Retry: true."""
    http = stripe.RequestsClient()
    assert not http._should_retry((b"", 429, CaseInsensitiveDict()), None, 0, 2)
    assert http._should_retry(
        (b"", 429, CaseInsensitiveDict({"Stripe-Should-Retry": "true"})), None, 0, 2
    )
