"""No database transaction stays open while the page waits for Stripe: a slow Stripe must not
hold a row lock or a pooled connection (60 scanners at once, each holding a transaction over
two Stripe calls, queued every other request on SQLite's write lock and would exhaust
PostgreSQL's pool). Every Stripe request the page makes, on every route of the longest flow,
is checked to happen with no connection checked out of the pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from shared.db import get_engine
from shared.stripe_client import RateLimitedRequestsClient
from sim.testing import SimServer
from tests.relink_page.pages import attempts, complete, data_attr, press_button
from tests.relink_page.world import World


@pytest.fixture
def connections_during_stripe_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(url, connections checked out) at each Stripe request the api sends."""
    seen: list[tuple[str, int]] = []
    send: Callable[..., Any] = RateLimitedRequestsClient.request

    def request(self: RateLimitedRequestsClient, method: str, url: str, *args: Any) -> Any:
        seen.append((url, get_engine().pool.checkedout()))  # type: ignore[attr-defined]
        return send(self, method, url, *args)

    monkeypatch.setattr(RateLimitedRequestsClient, "request", request)
    return seen


def test_no_connection_is_held_while_stripe_is_called(
    client: TestClient,
    world: World,
    sim: SimServer,
    connections_during_stripe_calls: list[tuple[str, int]],
) -> None:
    def assert_none_held() -> None:
        held = [(url, n) for url, n in connections_during_stripe_calls if n]
        assert held == [], "a Stripe call was made with a database connection checked out"

    token = world.token()
    assert client.get(f"/relink/{token}").status_code == 200
    assert_none_held()
    session_id, _ = press_button(client, world)
    sim.client.complete_session(session_id, "no_account")
    complete(client, world, session_id)
    second, _ = press_button(client, world)
    sim.client.complete_session(
        second, "new_account", new_accounts=[{"subcategory": "savings", "last4": "1111"}]
    )
    assert complete(client, world, second).status_code == 200
    confirm = client.post(f"/relink/{token}/setup", data={"session_id": second, "name": "Ada"})
    setup_intent = data_attr(confirm.text, 'name="setup_intent" value')
    secret = data_attr(confirm.text, "data-setup-secret")
    requests.post(
        f"{sim.base_url}/_sim/stripejs/confirm_setup", json={"client_secret": secret}, timeout=5
    )
    saved = client.post(f"/relink/{token}/setup/complete", data={"setup_intent": setup_intent})
    assert "Your new bank account is saved" in saved.text
    assert [a.result for a in attempts(world.case_id)] == ["no_account", "payment_method"]

    # account, sessions, SetupIntent, customer and linked-account reads: every kind was seen
    assert len(connections_during_stripe_calls) >= 8
    assert_none_held()
