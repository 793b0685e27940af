"""POST /webhooks/stripe: every rejection is precise and writes nothing; accepted events are
committed, then queued once."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from api.app import create_app
from api.webhooks import inbox_writer
from shared.db import session_scope, utcnow
from shared.models import WebhookEvent
from shared.settings import get_settings
from tests.conftest import OLD_WEBHOOK_SECRET, WEBHOOK_SECRET
from tests.factories import body_of, event, signature

URL = "/webhooks/stripe"


@pytest.fixture
def client(db: None, queued: list[str]) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def post(client: TestClient, body: bytes, header: str | None, **headers: str):  # type: ignore[no-untyped-def]
    if header is not None:
        headers["Stripe-Signature"] = header
    return client.post(URL, content=body, headers={"Content-Type": "application/json", **headers})


def stored_events() -> list[WebhookEvent]:
    with session_scope() as session:
        return list(session.exec(select(WebhookEvent)))


def test_signed_event_is_stored_then_queued(client: TestClient, queued: list[str]) -> None:
    evt = event()
    body = body_of(evt)
    response = post(client, body, signature(body, WEBHOOK_SECRET))
    assert response.status_code == 200
    assert response.json() == {"received": True, "id": evt["id"], "outcome": "queued"}
    [row] = stored_events()
    assert (row.id, row.type, row.status, row.created) == (
        evt["id"],
        evt["type"],
        "received",
        evt["created"],
    )
    assert row.payload == body.decode()
    assert queued == [evt["id"]]


def test_event_signed_with_a_rotated_secret_is_accepted(client: TestClient) -> None:
    body = body_of(event())
    assert post(client, body, signature(body, OLD_WEBHOOK_SECRET)).status_code == 200


def _header_without_v1(body: bytes) -> str:
    return signature(body, WEBHOOK_SECRET).replace("v1=", "v0=")


def _tampered(body: bytes) -> bytes:
    return body.replace(b'"livemode":false', b'"livemode":false ')


REJECTIONS = [
    ("missing_signature_header", lambda body: (body, None)),
    ("missing_signature_header", lambda body: (body, "")),
    ("malformed_signature_header", lambda body: (body, "garbage")),
    ("malformed_signature_header", lambda body: (body, "t=notanumber,v1=abc")),
    ("no_v1_signature", lambda body: (body, _header_without_v1(body))),
    ("signature_mismatch", lambda body: (body, signature(body, "whsec_someone_else"))),
    ("signature_mismatch", lambda body: (_tampered(body), signature(body, WEBHOOK_SECRET))),
    (
        "timestamp_too_old",
        lambda body: (body, signature(body, WEBHOOK_SECRET, int(time.time()) - 301)),
    ),
    (
        "timestamp_in_future",
        lambda body: (body, signature(body, WEBHOOK_SECRET, int(time.time()) + 301)),
    ),
    ("body_not_json", lambda _: (b"{not json", signature(b"{not json", WEBHOOK_SECRET))),
    ("body_not_utf8", lambda _: (b"\xff\xfe", "t=1,v1=00")),
    ("not_an_event", lambda _: (b"[1, 2]", signature(b"[1, 2]", WEBHOOK_SECRET))),
]
# The body's own checks; the others are the signature's (Stripe's authentication_error).
BODY_CHECKS = {"body_not_json", "body_not_utf8", "not_an_event"}


@pytest.mark.parametrize(("code", "make"), REJECTIONS)
def test_bad_delivery_is_refused_with_the_failed_check(
    client: TestClient, queued: list[str], code: str, make
) -> None:  # type: ignore[no-untyped-def]
    body, header = make(body_of(event()))
    response = post(client, body, header)
    assert response.status_code == 400
    kind = "invalid_request_error" if code in BODY_CHECKS else "authentication_error"
    message = response.json()["error"]["message"]
    assert message
    assert response.json() == {
        "error": {"type": kind, "code": code, "message": message, "param": None}
    }
    assert WEBHOOK_SECRET not in response.text
    assert OLD_WEBHOOK_SECRET not in response.text
    assert stored_events() == []
    assert queued == []


@pytest.mark.parametrize("missing", ["id", "type", "created", "livemode", "data"])
def test_event_missing_a_field_is_refused(client: TestClient, missing: str) -> None:
    evt = event()
    del evt[missing]
    body = body_of(evt)
    response = post(client, body, signature(body, WEBHOOK_SECRET))
    assert response.status_code == 400
    assert missing in response.json()["error"]["message"]
    assert stored_events() == []


def test_live_event_for_a_test_key_is_refused(client: TestClient) -> None:
    body = body_of(event(livemode=True))
    response = post(client, body, signature(body, WEBHOOK_SECRET))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "livemode_mismatch"
    assert "test key" in response.json()["error"]["message"]
    assert stored_events() == []


def test_oversized_body_is_refused_by_its_declared_length(client: TestClient) -> None:
    body = b"x" * (256 * 1024 + 1)
    response = post(client, body, signature(body, WEBHOOK_SECRET))
    assert response.status_code == 413
    assert stored_events() == []


def test_oversized_chunked_body_is_refused_while_streaming(client: TestClient) -> None:
    chunks_read = 0

    def chunks() -> Iterator[bytes]:
        nonlocal chunks_read
        for _ in range(1000):
            chunks_read += 1
            yield b"x" * 65536

    response = client.post(URL, content=chunks(), headers={"Stripe-Signature": "t=1,v1=00"})
    assert response.status_code == 413
    assert stored_events() == []


def test_without_webhook_secrets_the_endpoint_refuses(
    monkeypatch: pytest.MonkeyPatch, client: TestClient
) -> None:
    from shared.settings import get_settings

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "")
    get_settings.cache_clear()
    body = body_of(event())
    response = post(client, body, signature(body, WEBHOOK_SECRET))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "no_webhook_secret"
    assert response.json()["error"]["type"] == "api_error"
    assert stored_events() == []


def test_duplicate_delivery_is_acknowledged_and_not_queued_again(
    client: TestClient, queued: list[str]
) -> None:
    body = body_of(event())
    for _ in range(3):
        assert post(client, body, signature(body, WEBHOOK_SECRET)).status_code == 200
    assert len(stored_events()) == 1
    assert len(queued) == 1


def test_duplicate_of_an_unprocessed_event_with_a_stale_enqueue_is_queued_again(
    client: TestClient, queued: list[str]
) -> None:
    evt = event()
    body = body_of(evt)
    post(client, body, signature(body, WEBHOOK_SECRET))
    with session_scope() as session:
        session.execute(update(WebhookEvent).values(enqueued_at=utcnow() - timedelta(hours=1)))
    response = post(client, body, signature(body, WEBHOOK_SECRET))
    assert response.json()["outcome"] == "queued"
    assert queued == [evt["id"], evt["id"]]


def test_duplicate_of_a_processed_event_is_never_queued_again(
    client: TestClient, queued: list[str]
) -> None:
    body = body_of(event())
    post(client, body, signature(body, WEBHOOK_SECRET))
    with session_scope() as session:
        session.execute(
            update(WebhookEvent).values(
                status="processed", enqueued_at=utcnow() - timedelta(hours=1)
            )
        )
    post(client, body, signature(body, WEBHOOK_SECRET))
    assert len(queued) == 1


def test_unhandled_type_is_recorded_as_ignored(client: TestClient, queued: list[str]) -> None:
    body = body_of(event(type="customer.created", obj={"id": "cus_1", "object": "customer"}))
    response = post(client, body, signature(body, WEBHOOK_SECRET))
    assert response.json()["outcome"] == "ignored"
    assert [row.status for row in stored_events()] == ["ignored"]
    assert queued == []


def test_broker_down_still_acknowledges_and_leaves_it_for_the_redrive(
    client: TestClient, broker_down: None
) -> None:
    body = body_of(event())
    response = post(client, body, signature(body, WEBHOOK_SECRET))
    assert response.status_code == 200
    assert response.json()["outcome"] == "stored"
    [row] = stored_events()
    assert row.status == "received"
    assert row.enqueued_at is None


def test_database_down_answers_503_so_stripe_retries(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, queued: list[str]
) -> None:
    def database_down(*_args: object, **_kwargs: object) -> bool:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(inbox_writer, "record_events", database_down)
    body = body_of(event())
    response = post(client, body, signature(body, WEBHOOK_SECRET))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    assert response.json()["error"]["type"] == "api_error"
    assert queued == []


def test_health_and_metrics(db: None, queued: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_ENABLED", "true")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        body = body_of(event())
        post(client, body, "garbage")
        metrics = client.get("/metrics/").text
    assert 'relink_webhook_rejections_total{check="malformed_signature_header"}' in metrics


def test_start_up_freezes_the_heap_so_full_collections_skip_it(db: None) -> None:
    gc.unfreeze()
    app = create_app()
    assert gc.get_freeze_count() == 0
    with TestClient(app):
        assert gc.get_freeze_count() > 10_000  # the modules and classes alive at start-up
    gc.unfreeze()


def test_the_asgi_served_operations_stay_in_the_openapi_schema(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPOSE_DOCS", "true")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        paths = client.get("/openapi.json").json()["paths"]
        assert client.get(URL).status_code == 405
    for path in (URL, f"{URL}/connect"):
        [parameter] = paths[path]["post"]["parameters"]
        assert (parameter["name"], parameter["in"]) == ("stripe-signature", "header")
        refusals = paths[path]["post"]["responses"]
        statuses = {"400", "413", "500", "503"} | ({"404"} if path.endswith("connect") else set())
        assert set(refusals) == {"200"} | statuses
        for status in statuses:
            schema = refusals[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}


def test_a_method_the_receiver_does_not_serve_is_refused_in_the_error_shape(
    client: TestClient,
) -> None:
    response = client.get(URL)
    assert response.status_code == 405
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "method_not_allowed",
            "message": "Method Not Allowed",
            "param": None,
        }
    }
