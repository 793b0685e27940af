"""Fixtures: a live simulator, SDK clients pointed at it, and a webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from sim.testing import SimServer, run_sim_server

PREVIEW = "2026-09-30.preview"
GA = "2026-10-28.endive"


@pytest.fixture
def sim() -> Iterator[SimServer]:
    """A fresh simulator; the rate limiter is off unless a test turns it on."""
    with run_sim_server(rate_limit_per_second=0) as server:
        yield server


@pytest.fixture
def sdk(sim: SimServer) -> Callable[..., stripe.StripeClient]:
    """`sdk(version)`: the real SDK pointed at the simulator (SDK default version if None)."""

    def make(version: str | None = None, api_key: str | None = None) -> stripe.StripeClient:
        return stripe.StripeClient(
            api_key or sim.api_key,
            base_addresses={"api": sim.base_url},
            stripe_version=version,
        )

    return make


@pytest.fixture
def customer(sim: SimServer) -> dict[str, Any]:
    return sim.client.create_customer("holder@example.com")


@pytest.fixture
def authorization(sim: SimServer, customer: dict[str, Any]) -> dict[str, Any]:
    """An authorization at StripeBank with two accounts (checking 6789, savings 4321)."""
    return sim.client.create_authorization(
        {"type": "customer", "customer": customer["id"]},
        institution="StripeBank",
        accounts=[
            {"last4": "6789", "subcategory": "checking", "permissions": ["payment_method"]},
            {"last4": "4321", "subcategory": "savings", "permissions": ["balances"]},
        ],
    )


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class WebhookReceiver:
    """A local HTTP endpoint that records every POST and answers from `statuses`."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    """Status codes for the next requests, in order; 200 once exhausted."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200

    def event_ids(self) -> list[str]:
        with self.lock:
            return [r.event["id"] for r in self.received]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    state = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.next_status()
            with state.lock:
                state.received.append(Received(body, dict(self.headers.items())))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
