"""Every relink-page route that spends Stripe calls is limited per case (a token bucket keyed
by the case, PAGE_CASE_REQUESTS_PER_MINUTE), and the api's Stripe calls draw from a budget of
their own (`stripe_page`, PAGE_STRIPE_RATE_LIMIT), apart from the workers' (`stripe`), with a
bounded wait (PAGE_STRIPE_MAX_WAIT_SECONDS): one link hammered, or the whole page flooded,
can neither starve the workers nor be starved by them, and a customer who cannot be served
gets a 503 "try again in a minute" with Retry-After at once instead of a hung page."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from shared import ratelimit
from shared.db import session_scope
from shared.settings import get_settings
from sim.testing import SimServer
from tests.relink_page.pages import attempts, press_button
from tests.relink_page.world import World, build_world


def assert_busy(response: Response) -> None:
    assert response.status_code == 503
    assert response.headers["retry-after"] == "60"
    assert "try again in a minute" in response.text
    assert response.headers["cache-control"] == "no-store"


def test_one_case_is_limited_and_others_are_not(
    client: TestClient, world: World, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAGE_CASE_REQUESTS_PER_MINUTE", "3")
    get_settings.cache_clear()
    token = world.token()
    session_id, _ = press_button(client, world)
    assert press_button(client, world)[0] == session_id
    assert press_button(client, world)[0] == session_id
    spent = len(sim.client.requests("/v1/"))
    for _ in range(5):
        assert_busy(client.post(f"/relink/{token}/session"))
        assert_busy(client.post(f"/relink/{token}/complete", data={"session_id": session_id}))
    assert len(sim.client.requests("/v1/")) == spent  # the refused ones called nobody
    with session_scope() as db:
        other = build_world(sim.client, db, institution="Other Bank")
    press_button(client, other)  # another case has its own bucket


def test_the_page_has_its_own_stripe_budget_with_a_bounded_wait(
    client: TestClient, world: World, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAGE_STRIPE_RATE_LIMIT", "5")
    monkeypatch.setenv("PAGE_STRIPE_MAX_WAIT_SECONDS", "1")
    get_settings.cache_clear()
    ratelimit.reset_buckets()
    # the workers' budget is spent for the next minute: the page does not wait for it
    ratelimit.bucket_for("stripe").reserve(get_settings().stripe_requests_per_second * 60)
    answers: list[tuple[str, str]] = []
    pressed = threading.Thread(target=lambda: answers.append(press_button(client, world)))
    pressed.start()
    pressed.join(timeout=10)
    assert answers, "the page waited for the workers' Stripe budget"

    # the page's own budget is spent for the next minute: a 503 at once, nothing recorded
    ratelimit.bucket_for("stripe_page").reserve(5 * 60)
    with session_scope() as db:
        other = build_world(sim.client, db, institution="Other Bank")
    spent = len(sim.client.requests("/v1/"))
    started = time.monotonic()
    assert_busy(client.post(f"/relink/{other.token()}/session"))
    assert time.monotonic() - started < 1.5  # never longer than the bounded wait (and a bit)
    assert len(sim.client.requests("/v1/")) == spent
    assert attempts(other.case_id) == []


def test_the_page_and_the_workers_together_stay_under_stripes_own_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # about 25 requests/s in test mode and 100 in live mode, per Stripe account
    monkeypatch.delenv("PAGE_STRIPE_RATE_LIMIT", raising=False)
    for key, stripe_limit in (("sk_test_x", 25), ("sk_live_x", 100)):
        monkeypatch.setenv("STRIPE_API_KEY", key)
        get_settings.cache_clear()
        settings = get_settings()
        assert settings.page_stripe_requests_per_second > 0
        total = settings.stripe_requests_per_second + settings.page_stripe_requests_per_second
        assert total < stripe_limit
    assert ratelimit.rate_for("stripe_page", settings) == settings.page_stripe_requests_per_second
