"""/ops shows the platform endpoint (enabled or disabled, held deliveries) and its enable
button, guarded like the replay button: a session and its CSRF token, or the bearer token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import request_limits
from api.app import create_app
from shared.db import session_scope, utcnow
from shared.events.catalog import DELIVER_PLATFORM_EVENT
from shared.platform_webhooks import endpoint as platform_endpoint
from shared.platform_webhooks import events, payloads
from shared.platform_webhooks.models import PlatformEvent
from shared.settings import get_settings
from tests.security.test_ops_dashboard_access import TOKEN

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def client(db: None, published: list[Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("OPS_TOKEN", TOKEN)
    monkeypatch.setenv("PLATFORM_WEBHOOK_URL", "https://platform.example.com/hooks")
    monkeypatch.setenv("PLATFORM_WEBHOOK_SECRETS", SECRET)
    get_settings.cache_clear()
    request_limits.reset()
    with TestClient(create_app(), follow_redirects=False) as test_client:
        yield test_client


def login(client: TestClient) -> str:
    """A session; the CSRF token of the page's first form ('' without one)."""
    assert client.post("/ops/login", data={"token": TOKEN}).status_code == 303
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/ops").text)
    return found.group(1) if found else ""


def disabled_with_held(count: int) -> list[int]:
    """`count` held events of one case, the endpoint disabled an hour ago."""
    ids: list[int] = []
    with session_scope() as session:
        for _ in range(count):
            row = events.record(session, payloads.TEST, "case:1", {"hello": "relink"})
            assert row is not None
            assert row.id is not None
            row.status = "held"
            ids.append(row.id)
        endpoint = platform_endpoint.endpoint(session, lock=True)
        endpoint.disabled_at = utcnow() - timedelta(hours=1)
        endpoint.failing_since = utcnow() - timedelta(hours=73)
        session.add(endpoint)
    return ids


def status_of(event_id: int) -> str:
    with session_scope() as session:
        row = session.get(PlatformEvent, event_id)
        assert row is not None
        return row.status


def test_an_enabled_endpoint_is_shown_without_a_button(client: TestClient) -> None:
    login(client)
    page = client.get("/ops").text
    assert 'id="endpoint-state">enabled<' in page
    assert "/ops/webhooks/enable" not in page


def test_a_disabled_endpoint_is_shown_and_the_button_enables_it_once(
    client: TestClient, published: list[Any]
) -> None:
    first, second = disabled_with_held(2)
    published.clear()
    csrf = login(client)
    page = client.get("/ops").text
    assert 'id="endpoint-disabled"' in page
    assert 'id="endpoint-state">disabled<' in page
    assert 'id="endpoint-held">2<' in page
    assert 'action="/ops/webhooks/enable"' in page

    for _ in range(2):  # a double press
        answer = client.post("/ops/webhooks/enable", data={"csrf": csrf, "days": "30"})
        assert answer.status_code == 303
    assert published == [(DELIVER_PLATFORM_EVENT, [first])]  # the rest follow in order
    assert (status_of(first), status_of(second)) == ("pending", "held")
    after = client.get(answer.headers["location"])
    assert "Endpoint not disabled" in after.text  # the second press changed nothing
    assert 'id="endpoint-state">enabled<' in after.text


def test_enable_without_the_csrf_token_or_a_session_is_refused(
    client: TestClient, published: list[Any]
) -> None:
    [held] = disabled_with_held(1)
    published.clear()
    anonymous = client.post("/ops/webhooks/enable", data={"csrf": ""})
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/ops/login")
    login(client)
    for data in ({}, {"csrf": "0" * 64}):
        assert client.post("/ops/webhooks/enable", data=data).status_code == 403
    assert published == []
    assert status_of(held) == "held"
    with session_scope() as session:
        assert platform_endpoint.status(session).disabled


def test_a_bearer_client_enables_without_a_csrf_token(
    client: TestClient, published: list[Any]
) -> None:
    [held] = disabled_with_held(1)
    answer = client.post("/ops/webhooks/enable", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 303
    assert status_of(held) == "pending"


def test_a_crafted_notice_is_not_shown(client: TestClient) -> None:
    login(client)
    assert "Endpoint call" not in client.get("/ops?enabled=call+us").text
