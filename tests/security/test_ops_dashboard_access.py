"""The operations dashboard vs whoever is not its operator: no token, a wrong or forged one, a
token in the URL, a forged cross-site replay, a double-pressed replay."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api import request_limits
from api.app import create_app
from shared.db import get_engine, utcnow
from shared.events.catalog import PROCESS_EVENT
from shared.models import WebhookEvent
from shared.settings import get_settings
from tests.ops.scenario import DEAD_EVENT, seed

TOKEN = "ops-token-for-tests-0123456789"


@pytest.fixture
def client(db: None, published: list[Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("OPS_TOKEN", TOKEN)
    get_settings.cache_clear()
    request_limits.reset()  # every test client is the same address
    with Session(get_engine()) as session:
        seed(session, utcnow())
        session.commit()
    with TestClient(create_app(), follow_redirects=False) as test_client:
        yield test_client


def login(client: TestClient) -> str:
    answer = client.post("/ops/login", data={"token": TOKEN})
    assert answer.status_code == 303
    page = client.get("/ops")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found
    return found.group(1)


def status_of(event_id: str) -> str:
    with Session(get_engine()) as session:
        event = session.get(WebhookEvent, event_id)
        assert event is not None
        return event.status


def refusal(answer: Any) -> tuple[int, str, str]:
    """An /ops refusal: the API's error shape, with the dashboard's headers."""
    assert answer.headers["content-type"] == "application/json"
    assert (answer.headers["cache-control"], answer.headers["x-frame-options"]) == (
        "no-store",
        "DENY",
    )
    error = answer.json()["error"]
    assert set(error) == {"type", "code", "message", "param"}
    assert error["param"] is None
    return answer.status_code, error["type"], error["code"]


NOT_FOUND = (404, "invalid_request_error", "not_found")


def test_without_ops_token_every_ops_route_is_404(db: None) -> None:
    with TestClient(create_app(), follow_redirects=False) as client:
        assert refusal(client.get("/ops")) == NOT_FOUND
        assert refusal(client.get("/ops/login")) == NOT_FOUND
        assert refusal(client.post("/ops/login", data={"token": ""})) == NOT_FOUND
        assert refusal(client.post(f"/ops/events/{DEAD_EVENT}/replay")) == NOT_FOUND


def test_a_browser_without_a_session_is_sent_to_the_login_form(client: TestClient) -> None:
    answer = client.get("/ops")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ops/login"
    assert "deactivated" not in answer.text
    form = client.get("/ops/login")
    assert 'method="post" action="/ops/login"' in form.text  # the token goes in a POST body


def test_a_wrong_or_foreign_authorization_header_is_401(client: TestClient) -> None:
    for header in (f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN):
        answer = client.get("/ops", headers={"Authorization": header})
        assert refusal(answer) == (401, "authentication_error", "unauthorized"), header
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "deactivated" not in answer.text
    assert client.get("/ops", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_token_in_the_url_opens_nothing(client: TestClient) -> None:
    for url in (f"/ops?token={TOKEN}", f"/ops?ops_token={TOKEN}&days=7"):
        assert client.get(url).status_code == 303


def test_a_wrong_token_sets_no_cookie_and_the_right_one_a_strict_httponly_cookie(
    client: TestClient,
) -> None:
    wrong = client.post("/ops/login", data={"token": TOKEN[:-1]})
    assert wrong.status_code == 401
    assert "set-cookie" not in wrong.headers
    right = client.post("/ops/login", data={"token": TOKEN})
    cookie = right.headers["set-cookie"]
    assert right.headers["location"] == "/ops"
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/ops" in cookie
    assert "Secure" not in cookie  # plain http in tests; https below
    assert TOKEN not in cookie


def test_over_https_the_cookie_is_secure(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://relink.example.com")
    get_settings.cache_clear()
    right = client.post("/ops/login", data={"token": TOKEN})
    assert "Secure" in right.headers["set-cookie"]


def test_a_forged_or_outdated_session_cookie_is_refused(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    login(client)
    cookie = client.cookies.get("relink_ops")
    assert cookie
    client.cookies.clear()
    for forged in (cookie[:-2] + "xx", "x" + cookie, cookie.split(".")[0]):
        assert client.get("/ops", headers={"Cookie": f"relink_ops={forged}"}).status_code == 303
    assert client.get("/ops", headers={"Cookie": f"relink_ops={cookie}"}).status_code == 200
    monkeypatch.setenv("OPS_TOKEN", "a-new-operator-token")  # rotating the token logs out
    get_settings.cache_clear()
    assert client.get("/ops", headers={"Cookie": f"relink_ops={cookie}"}).status_code == 303


def test_a_replay_without_the_csrf_token_is_refused(
    client: TestClient, published: list[Any]
) -> None:
    login(client)
    for data in ({}, {"csrf": "0" * 64}):
        answer = client.post(f"/ops/events/{DEAD_EVENT}/replay", data=data)
        assert refusal(answer) == (403, "invalid_request_error", "forbidden")
    assert status_of(DEAD_EVENT) == "dead"
    assert published == []


def test_a_replay_without_a_session_is_refused(client: TestClient, published: list[Any]) -> None:
    answer = client.post(f"/ops/events/{DEAD_EVENT}/replay", data={"csrf": ""})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ops/login"
    assert status_of(DEAD_EVENT) == "dead"
    assert published == []


def test_the_replay_button_replays_a_dead_event_once(
    client: TestClient, published: list[Any]
) -> None:
    csrf = login(client)
    for _ in range(2):  # a double press
        answer = client.post(f"/ops/events/{DEAD_EVENT}/replay", data={"csrf": csrf, "days": "30"})
        assert answer.status_code == 303
    assert published == [(PROCESS_EVENT, [DEAD_EVENT])]
    assert status_of(DEAD_EVENT) == "received"
    after = client.get(answer.headers["location"])
    assert f"{DEAD_EVENT}: refused" in after.text  # the second press queued nothing
    assert after.url.params["days"] == "30"


def test_a_replay_of_an_id_with_a_nul_is_404_not_a_500(
    client: TestClient, published: list[Any]
) -> None:
    answer = client.post("/ops/events/evt_%00/replay", headers={"Authorization": f"Bearer {TOKEN}"})
    assert refusal(answer) == NOT_FOUND
    assert published == []


def test_a_bearer_client_replays_without_a_csrf_token(
    client: TestClient, published: list[Any]
) -> None:
    answer = client.post(
        f"/ops/events/{DEAD_EVENT}/replay", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 303
    assert published == [(PROCESS_EVENT, [DEAD_EVENT])]


def test_logins_past_the_limit_are_429_even_with_the_right_token(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_AUTH_ATTEMPTS_PER_MINUTE", "3")
    for _ in range(3):
        assert client.post("/ops/login", data={"token": "guess"}).status_code == 401
    refused = client.post("/ops/login", data={"token": TOKEN})
    assert refusal(refused) == (429, "rate_limit_error", "rate_limited")
    assert refused.headers["Retry-After"] == "60"
    assert "set-cookie" not in refused.headers


def test_bearer_tokens_past_the_limit_are_429_and_a_session_cookie_is_not_counted(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_AUTH_ATTEMPTS_PER_MINUTE", "3")
    login(client)  # one attempt; the session cookie costs none after it
    for _ in range(2):
        assert client.get("/ops", headers={"Authorization": "Bearer guess"}).status_code == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/ops", headers=right).status_code == 429
    assert client.post("/ops/events/evt_x/replay", headers=right).status_code == 429
    for _ in range(5):
        assert client.get("/ops").status_code == 200


def test_a_short_ops_token_stops_start_up(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """L9: OPS_TOKEN=1 was accepted, and then guessed."""
    monkeypatch.setenv("OPS_TOKEN", "1")
    with pytest.raises(ValueError, match="OPS_TOKEN must be at least 16 characters"):
        create_app()


def test_after_logout_a_copy_of_the_session_cookie_opens_nothing(client: TestClient) -> None:
    """L13: logout only deleted the browser's cookie; a copy stayed valid OPS_SESSION_HOURS."""
    login(client)
    stolen = client.cookies.get("relink_ops")
    assert stolen
    assert client.post("/ops/logout").status_code == 303
    client.cookies.set("relink_ops", stolen, path="/ops")
    assert client.get("/ops").status_code == 303  # back to the login form
    login(client)  # a new login is a new session
    assert client.get("/ops").status_code == 200
