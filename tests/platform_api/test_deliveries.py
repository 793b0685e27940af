"""Platform webhook deliveries over the API: a Stripe-style list with filters, one delivery
with its attempts (status, duration, the answer's first KiB), and redeliver, which takes the
write:webhooks scope, queues the same webhook id once per press window and is refused while
the endpoint is disabled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.db import session_scope
from shared.events.catalog import DELIVER_PLATFORM_EVENT
from shared.platform_webhooks import endpoint
from shared.platform_webhooks.models import PlatformAttempt, PlatformEvent
from tests.platform_api.conftest import T0, bearer, make_key

Keys = dict[str, dict[str, str]]
URL = "/api/v1/webhook_deliveries"


def add_delivery(
    n: int, *, status: str = "delivered", event_type: str = "relink.case.opened", tries: int = 1
) -> int:
    with session_scope() as session:
        row = PlatformEvent(
            webhook_id=f"msg_{n:032x}",
            type=event_type,
            case_id=n,
            sequence_key=f"case:{n}",
            sequence=1,
            payload="{}",
            status=status,
            attempts=tries,
            created_at=T0 + timedelta(minutes=n),
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        for attempt in range(tries):
            last = attempt == tries - 1
            session.add(
                PlatformAttempt(
                    event_id=row.id,
                    started_at=T0 + timedelta(minutes=n, seconds=attempt),
                    duration_ms=40 + attempt,
                    status_code=204 if last and status == "delivered" else 500,
                    error=None if last and status == "delivered" else "HTTP 500",
                    response_body="" if last and status == "delivered" else '{"oops":true}',
                )
            )
        return row.id


@pytest.fixture
def hooks_key(db: None) -> dict[str, str]:
    return bearer(make_key("write:webhooks"))


def test_the_list_pages_newest_first_with_each_deliverys_attempts(
    api: TestClient, keys: Keys
) -> None:
    ids = [add_delivery(n, tries=1 + n % 3) for n in range(1, 26)]
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 10}
    while True:
        response = api.get(URL, params=params, headers=keys["read"])
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert (body["object"], body["url"]) == ("list", URL)
        seen += [d["id"] for d in body["data"]]
        for delivery in body["data"]:
            assert delivery["object"] == "webhook_delivery"
            assert len(delivery["attempts"]) == delivery["attempt_count"]
        if not body["has_more"]:
            break
        params["starting_after"] = body["data"][-1]["id"]
    assert seen == sorted(ids, reverse=True)


def test_filters_by_status_type_and_event(api: TestClient, keys: Keys) -> None:
    delivered = add_delivery(1)
    failed = add_delivery(2, status="failed", tries=3)
    other_type = add_delivery(3, event_type="relink.case.resolved")

    def listed(**params: str) -> list[int]:
        response = api.get(URL, params=params, headers=keys["read"])
        assert response.status_code == 200, response.text
        return [d["id"] for d in response.json()["data"]]

    assert listed(status="failed") == [failed]
    assert listed(type="relink.case.resolved") == [other_type]
    assert listed(event=f"msg_{1:032x}") == [delivered]
    assert listed(status="delivered", type="relink.case.opened") == [delivered]
    assert listed(event="msg_nothing") == []
    refused = api.get(URL, params={"status": "lost"}, headers=keys["read"])
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "invalid_request")
    nul = api.get(URL, params={"type": "relink\x00"}, headers=keys["read"])
    assert nul.status_code == 422


def test_one_delivery_shows_every_attempt(api: TestClient, keys: Keys) -> None:
    delivery_id = add_delivery(1, status="failed", tries=2)
    body = api.get(f"{URL}/{delivery_id}", headers=keys["read"]).json()
    assert (body["id"], body["status"], body["webhook_id"]) == (
        delivery_id,
        "failed",
        f"msg_{1:032x}",
    )
    assert [(a["status_code"], a["duration_ms"], a["response_body"]) for a in body["attempts"]] == [
        (500, 40, '{"oops":true}'),
        (500, 41, '{"oops":true}'),
    ]
    missing = api.get(f"{URL}/999999", headers=keys["read"])
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "not_found",
            "message": "no webhook delivery 999999",
            "param": None,
        }
    }


def test_scopes_read_for_the_lists_and_write_webhooks_to_redeliver(
    api: TestClient, keys: Keys, hooks_key: dict[str, str], published: list[Any]
) -> None:
    delivery_id = add_delivery(1)
    assert api.get(URL).status_code == 401
    assert api.get(URL, headers=keys["write"]).status_code == 403
    for key in (keys["read"], keys["write"], keys["all"]):
        refused = api.post(f"{URL}/{delivery_id}/redeliver", headers=key)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
    assert published == []
    with session_scope() as session:
        row = session.get(PlatformEvent, delivery_id)
        assert row is not None
        assert (row.status, row.redelivered_at) == ("delivered", None)


def test_redeliver_queues_the_same_webhook_id_once_per_press(
    api: TestClient, hooks_key: dict[str, str], keys: Keys, published: list[Any]
) -> None:
    delivery_id = add_delivery(1)
    first = api.post(f"{URL}/{delivery_id}/redeliver", headers=hooks_key)
    assert first.status_code == 202
    assert first.headers["cache-control"] == "no-store"
    assert (first.json()["status"], first.json()["webhook_id"]) == ("pending", f"msg_{1:032x}")
    again = api.post(f"{URL}/{delivery_id}/redeliver", headers=hooks_key)
    assert again.status_code == 202
    assert published == [(DELIVER_PLATFORM_EVENT, [delivery_id])]
    missing = api.post(f"{URL}/999999/redeliver", headers=hooks_key)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


def test_redeliver_while_the_endpoint_is_disabled_is_a_409_with_nothing_written(
    api: TestClient, hooks_key: dict[str, str], published: list[Any]
) -> None:
    delivery_id = add_delivery(1, status="failed", tries=2)
    with session_scope() as session:
        row = endpoint.endpoint(session, lock=True)
        row.disabled_at = T0
        session.add(row)

    response = api.post(f"{URL}/{delivery_id}/redeliver", headers=hooks_key)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "endpoint_disabled"
    assert published == []
    with session_scope() as session:
        stored = session.get(PlatformEvent, delivery_id)
        assert stored is not None
        assert (stored.status, stored.redelivered_at) == ("failed", None)
