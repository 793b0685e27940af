"""The Connect endpoint (POST /webhooks/stripe/connect) and its rules: events of connected
accounts only, signed with STRIPE_CONNECT_WEBHOOK_SECRETS only, and only while STRIPE_CONNECT
is on; the account's endpoint refuses an event with `account`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from shared.db import session_scope
from shared.models import WebhookEvent
from shared.settings import get_settings
from tests.conftest import WEBHOOK_SECRET
from tests.factories import body_of, event, signature

CONNECT_SECRET = "whsec_test_connect"
CONNECTED = "acct_1Connected000001"


@pytest.fixture
def connect_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_CONNECT", "true")
    monkeypatch.setenv("STRIPE_CONNECT_WEBHOOK_SECRETS", CONNECT_SECRET)
    get_settings.cache_clear()


@pytest.fixture
def client(db: None, queued: list[str]) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def post(client: TestClient, url: str, body: bytes, secret: str):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature(body, secret)}
    return client.post(url, content=body, headers=headers)


def stored() -> list[tuple[str, str | None]]:
    with session_scope() as session:
        return [(e.id, e.account) for e in session.exec(select(WebhookEvent))]


@pytest.mark.usefixtures("connect_on")
def test_a_connect_event_signed_with_the_connect_secret_is_stored_with_its_account(
    client: TestClient, queued: list[str]
) -> None:
    evt = event(account=CONNECTED)
    response = post(client, "/webhooks/stripe/connect", body_of(evt), CONNECT_SECRET)
    assert response.status_code == 200
    assert response.json()["outcome"] == "queued"
    assert stored() == [(evt["id"], CONNECTED)]
    assert queued == [evt["id"]]


@pytest.mark.usefixtures("connect_on")
def test_a_connect_event_signed_with_the_platform_secret_is_refused(client: TestClient) -> None:
    response = post(
        client, "/webhooks/stripe/connect", body_of(event(account=CONNECTED)), WEBHOOK_SECRET
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "signature_mismatch"
    assert stored() == []


@pytest.mark.usefixtures("connect_on")
def test_a_platform_event_never_passes_as_a_connect_one(client: TestClient) -> None:
    """Signed with the Connect secret but without `account`: not a connected account's."""
    response = post(client, "/webhooks/stripe/connect", body_of(event()), CONNECT_SECRET)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_a_connect_event"
    assert stored() == []


@pytest.mark.parametrize("connect", [True, False])
def test_the_accounts_endpoint_refuses_an_event_with_account(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, connect: bool
) -> None:
    if connect:
        monkeypatch.setenv("STRIPE_CONNECT", "true")
        monkeypatch.setenv("STRIPE_CONNECT_WEBHOOK_SECRETS", CONNECT_SECRET)
        get_settings.cache_clear()
    response = post(client, "/webhooks/stripe", body_of(event(account=CONNECTED)), WEBHOOK_SECRET)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "connect_event_on_account_endpoint"
    assert stored() == []


def test_the_connect_endpoint_is_off_without_stripe_connect(client: TestClient) -> None:
    body = body_of(event(account=CONNECTED))
    response = post(client, "/webhooks/stripe/connect", body, CONNECT_SECRET)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "connect_disabled"
    assert stored() == []


def test_stripe_connect_needs_the_connect_endpoints_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.settings import ConfigError, load_settings

    monkeypatch.setenv("STRIPE_CONNECT", "true")
    with pytest.raises(ConfigError, match="STRIPE_CONNECT_WEBHOOK_SECRETS"):
        load_settings()
