"""Every webhook envelope the simulator sends is a valid `event`, and every event type it
sends or relink handles is in the spec's event-type list."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shared.events.catalog import HANDLED_EVENT_TYPES, SNAPSHOT_EVENT_TYPES
from sim.state import FC_EVENT_TYPES
from sim.testing import SimServer
from tests.conformance.schemas import EVENT_TYPES, assert_valid, errors


@pytest.fixture
def received() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local endpoint recording every JSON body POSTed to it."""
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe", bodies
    server.shutdown()
    server.server_close()


def test_every_event_type_relink_handles_or_the_simulator_sends_is_in_the_spec() -> None:
    # a thin type is the snapshot type with Stripe's "v1." prefix (the v2 event's type)
    snapshot_types = {t.removeprefix("v1.") for t in HANDLED_EVENT_TYPES}
    assert {t for t in HANDLED_EVENT_TYPES if t not in snapshot_types} <= {
        f"v1.{t}" for t in EVENT_TYPES
    }
    assert snapshot_types <= EVENT_TYPES, snapshot_types - EVENT_TYPES
    assert set(FC_EVENT_TYPES) <= EVENT_TYPES, set(FC_EVENT_TYPES) - EVENT_TYPES


def test_a_simulated_endpoint_subscribes_to_every_financial_connections_type_relink_handles() -> (
    None
):
    assert set(FC_EVENT_TYPES) == SNAPSHOT_EVENT_TYPES


def test_every_webhook_envelope_is_a_valid_event(
    sim: SimServer, received: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = received
    sim.client.configure_webhooks(url, "whsec_conformance")
    customer = sim.client.create_customer()["id"]
    holder = {"type": "customer", "customer": customer}
    first = sim.client.create_authorization(holder, n_accounts=2)
    second = sim.client.create_authorization(holder, n_accounts=1)
    sim.client.mark_upcoming_deactivation(first["accounts"][0], expected_deactivation_date=2**31)
    sim.client.mark_authorization_upcoming_deactivation(
        second["id"], expected_deactivation_date=2**31
    )
    sim.client.mark_account_number_expiry(first["accounts"][1], expected_expiry_date=2**31)
    sim.client.set_account_number_status(first["accounts"][1], "deactivated")
    sim.client.deactivate_authorization(first["id"])
    sim.client.disconnect_account(second["accounts"][0])
    sim.client.wait_for_deliveries(len(sim.client.events()))
    assert len(bodies) == len(sim.client.events()) >= 8
    kinds = set()
    for body in bodies:
        assert_valid("event", body)
        assert body["type"] in EVENT_TYPES
        kinds.add(body["type"])
        shape = body["type"].split(".")[1]  # account or authorization
        assert_valid(f"financial_connections.{shape}", body["data"]["object"])
    assert kinds >= {
        "financial_connections.account.created",
        "financial_connections.account.deactivated",
        "financial_connections.account.disconnected",
        "financial_connections.account.upcoming_deactivation",
        "financial_connections.authorization.upcoming_deactivation",
        "financial_connections.account.upcoming_account_number_expiry",
        "financial_connections.account.account_numbers_updated",
    }
    assert errors("event", {**bodies[0], "pending_webhooks": "1"})  # the validator bites
