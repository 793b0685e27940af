"""M3: a platform endpoint that trickles its answer one byte at a time (each read within the
socket timeout) must not hold a worker past PLATFORM_WEBHOOK_TIMEOUT_SECONDS: the attempt
ends at that deadline, closes the connection, is a failed attempt retried per the backoff,
its claim goes stale soon after, and the in-flight cap leaves compose's worker processes
for the inbox."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from shared.db import session_scope, utcnow
from shared.events.catalog import DELIVER_PLATFORM_EVENT
from shared.platform_webhooks import events, payloads
from shared.platform_webhooks.models import PlatformAttempt, PlatformEvent
from shared.settings import Settings, get_settings
from tests.conftest import Published
from tests.platform_webhooks.receiver import SECRET
from tests.security.test_compose_exposure import option
from worker.platform_webhooks import repository, service

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 2.0
BYTE_EVERY = 0.5  # well inside the timeout: no single read ever times out
ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"  # 23 s at that pace


def read_request(connection: socket.socket) -> None:
    """The whole request, headers and body, so what arrives later can only be its close."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    while len(body) < (int(length[1]) if length else 0):
        body += connection.recv(65536)


class Trickler:
    """Accepts connections, reads the request, then answers one byte every BYTE_EVERY s until
    the client hangs up; records how long each connection stayed open."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.open_for: list[float] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        started = time.monotonic()
        with connection:
            read_request(connection)
            connection.settimeout(BYTE_EVERY)
            for i in range(len(ANSWER)):
                try:
                    connection.sendall(ANSWER[i : i + 1])
                    if connection.recv(1) == b"":  # the client closed its end
                        break
                except TimeoutError:
                    continue  # still open: the next byte
                except OSError:
                    break
        self.open_for.append(time.monotonic() - started)

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def trickler(monkeypatch: pytest.MonkeyPatch, db: None) -> Iterator[Trickler]:
    server = Trickler()
    monkeypatch.setenv("PLATFORM_WEBHOOK_URL", server.url)
    monkeypatch.setenv("PLATFORM_WEBHOOK_SECRETS", SECRET)
    monkeypatch.setenv("PLATFORM_WEBHOOK_TIMEOUT_SECONDS", str(TIMEOUT))
    get_settings.cache_clear()
    yield server
    server.close()


def write_event() -> int:
    with session_scope() as session:
        row = events.record(session, payloads.TEST, "test", {"hello": "relink"})
        assert row is not None
        assert row.id is not None
        return row.id


def test_a_trickling_endpoint_is_a_failed_attempt_at_the_deadline(
    trickler: Trickler, published: Published
) -> None:
    event_id = write_event()
    published.clear()
    started = time.monotonic()

    outcome = service.deliver(event_id)

    elapsed = time.monotonic() - started
    with session_scope() as session:
        [attempt] = session.exec(select(PlatformAttempt)).all()
        row = session.get(PlatformEvent, event_id)
        assert row is not None
        assert (outcome, attempt.status_code, attempt.error) == ("retrying", None, "timeout")
        assert TIMEOUT <= elapsed < TIMEOUT + 1.0
        assert TIMEOUT * 1000 <= attempt.duration_ms < (TIMEOUT + 1.0) * 1000
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, "timeout")
        assert row.next_attempt_at > utcnow()  # per the backoff, not at once
    assert published == [(DELIVER_PLATFORM_EVENT, [event_id])]
    # the connection was closed at the deadline, not left to trickle on in the background
    deadline = time.monotonic() + 2 * BYTE_EVERY + 1.0
    while not trickler.open_for and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(trickler.open_for) == 1
    assert trickler.open_for[0] < TIMEOUT + 2 * BYTE_EVERY + 0.5


def test_a_claim_goes_stale_soon_after_its_attempts_deadline() -> None:
    settings = Settings()  # the defaults
    deadline = timedelta(seconds=settings.platform_webhook_timeout_seconds)
    stale_after = repository.claim_timeout(settings)
    assert deadline < stale_after <= deadline + timedelta(seconds=30)


def test_compose_workers_outnumber_the_platform_in_flight_cap() -> None:
    """Deliveries to a slow platform may hold at most the cap's worth of worker processes;
    the others keep working the inbox, emails and cases."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    concurrency = int(option(compose["services"]["worker"]["command"], "--concurrency") or 0)
    cap = Settings().platform_webhook_max_in_flight
    assert concurrency - cap >= 2
