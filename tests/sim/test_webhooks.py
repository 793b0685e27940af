"""Signed webhook delivery and Stripe's delivery behaviours."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from sim.testing import SimServer
from tests.sim.conftest import GA, PREVIEW, WebhookReceiver

SdkFactory = Callable[..., stripe.StripeClient]
SECRET = "whsec_simtest"


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def holder(customer: dict[str, Any]) -> dict[str, str]:
    return {"type": "customer", "customer": customer["id"]}


def test_events_arrive_signed_and_verify_with_the_sdk(
    sim: SimServer, receiver: WebhookReceiver, customer: dict[str, Any]
) -> None:
    sim.client.configure_webhooks(receiver.url, SECRET, api_version=PREVIEW)
    auth = sim.client.create_authorization(holder(customer), n_accounts=1)
    sim.client.deactivate_account(auth["accounts"][0], cause="access_expired")
    wait_until(lambda: len(receiver.received) == 2)

    first, second = receiver.received
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert first.headers["User-Agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    event = stripe.Webhook.construct_event(second.body, second.headers["Stripe-Signature"], SECRET)
    assert event.type == "financial_connections.account.deactivated"
    assert event.api_version == PREVIEW
    account = event.data.object
    assert isinstance(account, stripe.financial_connections.Account)
    assert account.to_dict()["status_details"]["inactive"]["cause"] == "access_expired"
    assert account.to_dict()["authorization"] == auth["id"]

    try:
        stripe.Webhook.construct_event(second.body, second.headers["Stripe-Signature"], "whsec_x")
    except stripe.SignatureVerificationError:
        pass
    else:
        raise AssertionError("a wrong secret must not verify")


def test_payload_is_frozen_at_the_endpoint_version(
    sim: SimServer, sdk: SdkFactory, receiver: WebhookReceiver, customer: dict[str, Any]
) -> None:
    sim.client.configure_webhooks(receiver.url, SECRET, api_version=GA)
    auth = sim.client.create_authorization(holder(customer), n_accounts=1)
    sim.client.deactivate_account(auth["accounts"][0])
    wait_until(lambda: len(receiver.received) == 2)
    delivered = receiver.received[1].event
    assert delivered["api_version"] == GA
    assert "authorization" not in delivered["data"]["object"]
    assert delivered["data"]["object"]["status_details"] == {}
    # retrieving the event on a preview version does not re-render it
    fetched = sdk(PREVIEW).v1.events.retrieve(delivered["id"]).to_dict()
    assert fetched["data"]["object"] == delivered["data"]["object"]
    assert fetched["pending_webhooks"] == 0


def test_failed_deliveries_are_retried_with_backoff(
    sim: SimServer, sdk: SdkFactory, receiver: WebhookReceiver, customer: dict[str, Any]
) -> None:
    receiver.statuses = [500, 503]
    sim.client.configure_webhooks(receiver.url, SECRET, retry=[0.1, 0.3, 0.3])
    sim.client.create_customer("x@example.com")  # no event
    auth = sim.client.create_authorization(holder(customer), n_accounts=1)
    attempts = sim.client.wait_for_deliveries(3)
    assert [a["status_code"] for a in attempts] == [500, 503, 200]
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert attempts[1]["at"] - attempts[0]["at"] >= 0.1
    assert attempts[2]["at"] - attempts[1]["at"] >= 0.3
    bodies = {r.body for r in receiver.received}
    assert len(bodies) == 1, "every attempt sends the same bytes"
    event_id = attempts[0]["event_id"]
    assert sdk().v1.events.retrieve(event_id).pending_webhooks == 0
    assert auth["accounts"][0] == receiver.received[0].event["data"]["object"]["id"]


def test_exhausted_retries_leave_the_event_undelivered(
    sim: SimServer, sdk: SdkFactory, receiver: WebhookReceiver, customer: dict[str, Any]
) -> None:
    receiver.statuses = [500] * 10
    sim.client.configure_webhooks(receiver.url, SECRET, retry=[0.05])
    sim.client.create_authorization(holder(customer), n_accounts=1)
    sim.client.wait_for_deliveries(2)
    sim.client.wait_idle()
    assert len(sim.client.deliveries()) == 2
    undelivered = sdk().v1.events.list(params={"delivery_success": False})
    assert len(undelivered.data) == 1
    assert undelivered.data[0].pending_webhooks == 1
    assert sdk().v1.events.list(params={"delivery_success": True}).data == []


def test_unreachable_endpoint_is_recorded_as_an_error(
    sim: SimServer, customer: dict[str, Any]
) -> None:
    sim.client.configure_webhooks("http://127.0.0.1:9/nowhere", SECRET, retry=[], timeout_s=1)
    sim.client.create_authorization(holder(customer), n_accounts=1)
    [attempt] = sim.client.wait_for_deliveries(1)
    assert attempt["status_code"] is None
    assert attempt["error"]
    assert attempt["ok"] is False


def test_duplicates_deliver_each_event_more_than_once(
    sim: SimServer, receiver: WebhookReceiver, customer: dict[str, Any]
) -> None:
    sim.client.configure_webhooks(receiver.url, SECRET, duplicates=1)
    auth = sim.client.create_authorization(holder(customer), n_accounts=2)
    wait_until(lambda: len(receiver.received) == 4)
    ids = receiver.event_ids()
    assert len(set(ids)) == 2
    assert len(ids) == 4
    for event_id in set(ids):
        assert ids.count(event_id) == 2
    assert {r.event["data"]["object"]["id"] for r in receiver.received} == set(auth["accounts"])
    assert sorted(d["copy"] for d in sim.client.deliveries()) == [0, 0, 1, 1]


def test_concurrency_keeps_that_many_deliveries_in_flight(
    sim: SimServer, customer: dict[str, Any]
) -> None:
    in_flight, peak, received = [0], [0], []
    lock = threading.Lock()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            time.sleep(0.2)
            with lock:
                in_flight[0] -= 1
                received.append(json.loads(body)["id"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe"
        sim.client.configure_webhooks(url, SECRET, concurrency=4)
        sim.client.create_authorization(holder(customer), n_accounts=8)
        created = [e["id"] for e in sim.client.events()]
        wait_until(lambda: len(received) == 8)
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(received) == sorted(created)
    assert peak[0] == 4


def test_shuffle_reorders_a_batch(
    sim: SimServer, receiver: WebhookReceiver, customer: dict[str, Any]
) -> None:
    sim.client.configure_webhooks(receiver.url, SECRET, shuffle=True, seed=7)
    auth = sim.client.create_authorization(holder(customer), n_accounts=8)
    created = [e["id"] for e in sim.client.events()]
    wait_until(lambda: len(receiver.received) == 8)
    delivered = receiver.event_ids()
    assert sorted(delivered) == sorted(created)
    assert delivered != created
    assert len(auth["accounts"]) == 8


def test_pause_holds_deliveries_until_resume(
    sim: SimServer, sdk: SdkFactory, receiver: WebhookReceiver, customer: dict[str, Any]
) -> None:
    sim.client.configure_webhooks(receiver.url, SECRET)
    sim.client.pause()
    sim.client.create_authorization(holder(customer), n_accounts=2)
    time.sleep(0.3)
    assert receiver.received == []
    assert sim.client.queued_deliveries() == 2
    pending = sdk().v1.events.list(params={"delivery_success": False})
    assert len(pending.data) == 2
    sim.client.resume()
    wait_until(lambda: len(receiver.received) == 2)


def test_delay_postpones_delivery(
    sim: SimServer, receiver: WebhookReceiver, customer: dict[str, Any]
) -> None:
    sim.client.configure_webhooks(receiver.url, SECRET, delay_s=0.4)
    started = time.time()
    sim.client.create_authorization(holder(customer), n_accounts=1)
    [attempt] = sim.client.wait_for_deliveries(1)
    assert attempt["at"] - started >= 0.4


def test_no_endpoint_means_no_delivery(sim: SimServer, customer: dict[str, Any]) -> None:
    sim.client.create_authorization(holder(customer), n_accounts=1)
    [event] = sim.client.events()
    assert event["pending_webhooks"] == 0
    time.sleep(0.1)
    assert sim.client.deliveries() == []
    assert event["api_version"] == GA  # the account default


def test_a_thin_endpoint_gets_thin_events_the_sdk_parses_and_fetches(
    sim: SimServer, sdk: SdkFactory, receiver: WebhookReceiver, customer: dict[str, Any]
) -> None:
    sim.client.configure_webhooks(receiver.url, SECRET, event_payload="thin")
    auth = sim.client.create_authorization(holder(customer), n_accounts=1)
    sim.client.deactivate_account(auth["accounts"][0], cause="access_expired")
    wait_until(lambda: len(receiver.received) == 2)

    delivered = receiver.received[1]
    assert set(delivered.event) == {
        "id", "object", "type", "created", "livemode", "context", "reason", "related_object"
    }  # fmt: skip
    client = sdk(PREVIEW)
    notification = client.parse_event_notification(
        delivered.body, delivered.headers["Stripe-Signature"], SECRET
    )
    assert isinstance(
        notification, stripe.events.V1FinancialConnectionsAccountDeactivatedEventNotification
    )
    assert notification.context is None
    assert notification.related_object.id == auth["accounts"][0]
    account = notification.fetch_related_object()
    assert account.status == "inactive"
    event = notification.fetch_event()
    assert event.id == notification.id
    assert event.related_object.url == f"/v1/financial_connections/accounts/{account.id}"
    snapshot = client.v1.events.retrieve(event.to_dict()["snapshot_event"])
    assert snapshot.type == "financial_connections.account.deactivated"
    assert notification.id != snapshot.id


def test_a_thin_endpoint_skips_types_without_a_thin_twin(
    sim: SimServer, receiver: WebhookReceiver, customer: dict[str, Any]
) -> None:
    sim.client.configure_webhooks(receiver.url, SECRET, event_payload="thin")
    auth = sim.client.create_authorization(holder(customer), n_accounts=1)
    sim.client.mark_authorization_upcoming_deactivation(auth["id"])
    sim.client.deactivate_account(auth["accounts"][0])
    wait_until(lambda: len(receiver.received) == 2)
    sim.client.wait_idle()
    types = [r.event["type"] for r in receiver.received]
    assert types == [
        "v1.financial_connections.account.created",
        "v1.financial_connections.account.deactivated",
    ]


def test_thin_events_of_a_connected_account_carry_it_as_context(
    sim: SimServer, sdk: SdkFactory, receiver: WebhookReceiver
) -> None:
    connected = sim.client.create_connected_account("owner@example.com")["id"]
    on_account = sim.client.on_account(connected)
    sim.client.configure_webhooks(receiver.url, SECRET, connect=True, event_payload="thin")
    holder_customer = on_account.create_customer("holder@example.com")
    auth = on_account.create_authorization(holder(holder_customer), n_accounts=1)
    wait_until(lambda: len(receiver.received) == 1)
    notification = sdk(PREVIEW).parse_event_notification(
        receiver.received[0].body, receiver.received[0].headers["Stripe-Signature"], SECRET
    )
    assert str(notification.context) == connected
    account = notification.fetch_related_object()  # sent with Stripe-Context
    assert account.id == auth["accounts"][0]
    assert notification.fetch_event().context == connected
    with pytest.raises(stripe.InvalidRequestError) as refused:  # not the platform's event
        sdk(PREVIEW).v2.core.events.retrieve(notification.id)
    assert refused.value.http_status == 404
