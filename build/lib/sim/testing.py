"""Serve the simulator on a free loopback port in a background thread (for pytest)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
import uvicorn

from sim.app import create_app
from sim.client import SimClient
from sim.signing import new_secret
from sim.state import SimState

DEFAULT_API_KEY = "sk_test_sim"


@dataclass
class SimServer:
    base_url: str
    api_key: str
    webhook_secret: str
    client: SimClient
    state: SimState


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def run_sim_server(
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    api_version: str = "2026-09-30.preview",
    rate_limit_per_second: float = 25.0,
    port: int | None = None,
    **delivery: Any,
) -> Iterator[SimServer]:
    """Start the simulator, yield a `SimServer`, and stop it (and its webhook thread)."""
    state = SimState(rate_limit_per_second=rate_limit_per_second)
    app = create_app(state)
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="sim-server", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("simulator did not start")
        time.sleep(0.01)
    requests.get(base_url + "/_sim/health", timeout=5).raise_for_status()
    secret = webhook_secret or new_secret()
    client = SimClient(base_url)
    if webhook_url:
        client.configure_webhooks(webhook_url, secret, api_version, **delivery)
    try:
        yield SimServer(base_url, DEFAULT_API_KEY, secret, client, state)
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=10)
