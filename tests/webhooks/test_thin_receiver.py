"""Thin deliveries (`v2.core.event`) on both receiver routes: recorded in the same inbox,
deduplicated on the event id, and refused with a precise 400 that writes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from shared.db import session_scope
from shared.models import WebhookEvent
from shared.settings import get_settings
from tests.conftest import WEBHOOK_SECRET
from tests.factories import body_of, signature, thin_event

CONNECT_SECRET = "whsec_test_connect"
CONNECTED = "acct_1Connected000001"


@pytest.fixture
def client(db: None, queued: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("STRIPE_CONNECT", "true")
    monkeypatch.setenv("STRIPE_CONNECT_WEBHOOK_SECRETS", CONNECT_SECRET)
    get_settings.cache_clear()
    with TestClient(create_app()) as test_client:
        yield test_client


def post(client: TestClient, body: bytes, header: str | None, url: str = "/webhooks/stripe"):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return client.post(url, content=body, headers=headers)


def stored() -> list[WebhookEvent]:
    with session_scope() as session:
        return list(session.exec(select(WebhookEvent)))


def test_a_signed_thin_event_is_recorded_once_and_queued(
    client: TestClient, queued: list[str]
) -> None:
    evt = thin_event()
    body = body_of(evt)
    first = post(client, body, signature(body, WEBHOOK_SECRET))
    again = post(client, body, signature(body, WEBHOOK_SECRET))
    assert first.json() == {"received": True, "id": evt["id"], "outcome": "queued"}
    assert again.json()["outcome"] == "recorded"
    [row] = stored()
    assert (row.type, row.status, row.account, row.api_version) == (
        "v1.financial_connections.account.deactivated",
        "received",
        None,
        None,
    )
    assert abs(row.created - time.time()) < 5
    assert row.payload == body.decode()
    assert queued == [evt["id"]]


def test_an_unhandled_thin_type_is_recorded_and_ignored(
    client: TestClient, queued: list[str]
) -> None:
    evt = thin_event("v1.billing.meter.no_meter_found", related_object=None)
    body = body_of(evt)
    assert post(client, body, signature(body, WEBHOOK_SECRET)).json()["outcome"] == "ignored"
    assert [row.status for row in stored()] == ["ignored"]
    assert queued == []


def test_the_connect_endpoint_records_a_thin_event_with_its_context(client: TestClient) -> None:
    body = body_of(thin_event(context=CONNECTED))
    response = post(client, body, signature(body, CONNECT_SECRET), "/webhooks/stripe/connect")
    assert response.status_code == 200
    assert [row.account for row in stored()] == [CONNECTED]


def _without(field: str) -> dict[str, Any]:
    evt = thin_event()
    del evt[field]
    return evt


MALFORMED = [
    ("id", thin_event(id="not_an_event_id")),
    ("id", _without("id")),
    ("type", _without("type")),
    ("created", thin_event(created=int(time.time()))),
    ("created", thin_event(created="yesterday")),
    ("created", thin_event(created="2026-12-02T08:00:00")),  # no zone
    ("livemode", thin_event(livemode="false")),
    ("context", thin_event(context="acct_1/acct_2")),
    ("related_object", _without("related_object")),
    ("related_object", thin_event(related_object={"id": "fca_1"})),
]


@pytest.mark.parametrize(("field", "evt"), MALFORMED)
def test_a_malformed_thin_event_is_refused_naming_the_field(
    client: TestClient, queued: list[str], field: str, evt: dict[str, Any]
) -> None:
    body = body_of(evt)
    response = post(client, body, signature(body, WEBHOOK_SECRET))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_an_event"
    assert field in response.json()["error"]["message"]
    assert stored() == []
    assert queued == []


def _tampered(body: bytes) -> bytes:
    return body.replace(b"deactivated", b"reactivated")


SIGNATURE_REJECTIONS = [
    ("missing_signature_header", lambda body: (body, None)),
    ("signature_mismatch", lambda body: (body, signature(body, "whsec_someone_else"))),
    ("signature_mismatch", lambda body: (_tampered(body), signature(body, WEBHOOK_SECRET))),
    ("signature_mismatch", lambda body: (body, signature(body, CONNECT_SECRET))),
    (
        "timestamp_too_old",
        lambda body: (body, signature(body, WEBHOOK_SECRET, int(time.time()) - 301)),
    ),
]


@pytest.mark.parametrize(("code", "make"), SIGNATURE_REJECTIONS)
def test_a_badly_signed_thin_event_is_refused_and_nothing_is_written(
    client: TestClient, queued: list[str], code: str, make
) -> None:  # type: ignore[no-untyped-def]
    body, header = make(body_of(thin_event()))
    response = post(client, body, header)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["type"] == "authentication_error"
    assert stored() == []
    assert queued == []


def test_the_endpoint_rules_hold_for_thin_events(client: TestClient) -> None:
    with_context = body_of(thin_event(context=CONNECTED))
    on_account = post(client, with_context, signature(with_context, WEBHOOK_SECRET))
    assert on_account.json()["error"]["code"] == "connect_event_on_account_endpoint"
    platform = body_of(thin_event())
    on_connect = post(
        client, platform, signature(platform, CONNECT_SECRET), "/webhooks/stripe/connect"
    )
    assert on_connect.json()["error"]["code"] == "not_a_connect_event"
    live = body_of(thin_event(livemode=True))
    assert (
        post(client, live, signature(live, WEBHOOK_SECRET)).json()["error"]["code"]
        == "livemode_mismatch"
    )
    assert stored() == []
