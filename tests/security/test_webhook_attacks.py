"""Attacks on POST /webhooks/stripe: oversized and ambiguous Stripe-Signature headers, signed
events with out-of-range fields, and one bad event sent inside a batch of good ones."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from api.webhooks import inbox_writer
from shared.db import session_scope
from shared.errors import RelinkError
from shared.events.inbox import EventHeader, InboxItem
from shared.models import WebhookEvent
from shared.settings import get_settings
from tests.conftest import WEBHOOK_SECRET
from tests.factories import body_of, event, signature

URL = "/webhooks/stripe"


@pytest.fixture
def receiver(db: None, queued: list[str]) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def deliver(client: TestClient, body: bytes, header: str) -> Any:
    return client.post(
        URL, content=body, headers={"Content-Type": "application/json", "Stripe-Signature": header}
    )


def stored_ids() -> list[str]:
    with session_scope() as session:
        return sorted(row.id for row in session.exec(select(WebhookEvent)))


def test_a_5_mb_signature_header_is_refused_before_any_parsing(receiver: TestClient) -> None:
    body = body_of(event())
    header = signature(body, WEBHOOK_SECRET) + ",v1=" + "ab" * 32 + ",v1=ab" * 700_000
    started = time.perf_counter()
    response = deliver(receiver, body, header)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "signature_header_too_large"
    assert time.perf_counter() - started < 1.0
    assert stored_ids() == []


def test_more_than_16_v1_signatures_are_refused(receiver: TestClient) -> None:
    body = body_of(event())
    header = signature(body, WEBHOOK_SECRET) + "".join(f",v1={n:064x}" for n in range(16))
    response = deliver(receiver, body, header)
    assert (response.status_code, response.json()["error"]["code"]) == (
        400,
        "too_many_signatures",
    )


def test_a_second_non_integer_t_is_a_400_not_a_500(receiver: TestClient) -> None:
    body = body_of(event())
    response = deliver(receiver, body, signature(body, WEBHOOK_SECRET) + ",t=abc")
    assert (response.status_code, response.json()["error"]["code"]) == (
        400,
        "malformed_signature_header",
    )
    assert stored_ids() == []


def test_a_trailing_t_cannot_hide_a_signature_dated_in_the_future(receiver: TestClient) -> None:
    body = body_of(event())
    ahead = signature(body, WEBHOOK_SECRET, timestamp=int(time.time()) + 3000)
    response = deliver(receiver, body, ahead + ",t=0")
    assert response.status_code == 400
    assert stored_ids() == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"created": 2**63}, "created"),
        ({"created": True}, "created"),
        ({"created": -(2**40)}, "created"),
        ({"id": "evt_" + "x" * 300}, "id"),
        ({"type": "t" * 300}, "type"),
        ({"account": "acct_" + "x" * 300}, "account"),
    ],
)
def test_a_signed_event_with_an_out_of_range_field_is_refused(
    receiver: TestClient, overrides: dict[str, Any], field: str
) -> None:
    body = body_of(event(**overrides))
    response = deliver(receiver, body, signature(body, WEBHOOK_SECRET))
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]
    assert stored_ids() == []


@pytest.mark.parametrize("url", [URL, "/webhooks/stripe/connect"])
def test_a_non_ascii_v1_signature_is_a_400_not_a_500(
    receiver: TestClient, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """The SDK's compare_digest raises TypeError on a non-ASCII str: refused before it."""
    monkeypatch.setenv("STRIPE_CONNECT", "true")
    monkeypatch.setenv("STRIPE_CONNECT_WEBHOOK_SECRETS", WEBHOOK_SECRET)
    get_settings.cache_clear()
    body = body_of(event(account="acct_1Connected000001"))
    forged = signature(body, WEBHOOK_SECRET).split(",v1=")[0] + ",v1=" + "é" * 64
    response = receiver.post(
        url,
        content=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": forged.encode()},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (
        400,
        "malformed_signature_header",
    )
    assert stored_ids() == []


@pytest.mark.parametrize("field", ["id", "type", "account"])
def test_a_signed_event_with_a_nul_in_a_field_is_refused(receiver: TestClient, field: str) -> None:
    """PostgreSQL text cannot hold NUL: refused as a bad field, not a 500 Stripe retries."""
    value = {
        "id": "evt_1\x00x",
        "type": "financial_connections.account.\x00",
        "account": "acct_\x00",
    }
    body = body_of(event(**{field: value[field]}))
    response = deliver(receiver, body, signature(body, WEBHOOK_SECRET))
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]
    assert stored_ids() == []


def header(event_id: str, created: int) -> EventHeader:
    return EventHeader(
        event_id, "financial_connections.account.deactivated", created, False, None, None
    )


def test_one_event_the_database_refuses_fails_alone_not_its_batch(
    db: None, queued: list[str]
) -> None:
    """Defence in depth behind the range checks: 29 good events and one whose `created` no
    database column holds, written as one group-commit batch."""
    now = int(time.time())
    items = [InboxItem(header(f"evt_good_{n}", now), "{}", handled=True) for n in range(29)]
    items.insert(7, InboxItem(header("evt_overflow", 2**63), "{}", handled=True))
    outcomes = inbox_writer.write_batch(items)
    assert [isinstance(outcome, RelinkError) for outcome in outcomes] == [
        item.header.id == "evt_overflow" for item in items
    ]
    assert stored_ids() == sorted(f"evt_good_{n}" for n in range(29))
    assert sorted(queued) == sorted(f"evt_good_{n}" for n in range(29))
