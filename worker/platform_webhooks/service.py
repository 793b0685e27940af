"""Deliver one platform event: claim it, POST it signed, record the attempt.

Each step is its own short transaction; none is open while the endpoint answers. The POST
follows no redirect (a 3xx is a failed attempt), reads at most RESPONSE_BODY_BYTES of the
response body (kept with the attempt, never logged), and gives up
PLATFORM_WEBHOOK_TIMEOUT_SECONDS after it starts, wall clock: connecting, TLS, sending and the
status line and headers together (an endpoint trickling a byte per read would hold a
per-read timeout for ever); a body still arriving at the deadline is kept as far as it came.
Every outcome updates the endpoint's standing (shared/platform_webhooks/endpoint.py): failing for
PLATFORM_WEBHOOK_DISABLE_AFTER_HOURS disables it, and its deliveries are held. A failed attempt is
tried again after an exponential, jittered delay, with the same `webhook-id` and body and a
new timestamp and signature, until PLATFORM_WEBHOOK_RETRY_WINDOW_SECONDS have passed since
the event was written (or replayed): then it is `failed` until an operator replays it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from sqlmodel import Session
from standardwebhooks.webhooks import Webhook

from shared import delivery
from shared.db import session_scope, utcnow
from shared.delivery import DeliveryStatus
from shared.events.catalog import DELIVER_PLATFORM_EVENT
from shared.platform_webhooks import endpoint, events, payloads
from shared.platform_webhooks.models import (
    PLATFORM_EVENTS,
    RESPONSE_BODY_BYTES,
    PlatformAttempt,
    PlatformEvent,
)
from shared.queue import publish_after_commit
from shared.settings import Settings, get_settings
from worker.platform_webhooks import repository
from worker.platform_webhooks.repository import BUSY, HELD

log = structlog.get_logger(__name__)

# A retry due this soon is published with a countdown; later ones are found by the sweep,
# so no long-eta message sits in the broker.
MAX_COUNTDOWN_SECONDS = 600.0
USER_AGENT = "relink-webhooks/1"


@dataclass(frozen=True)
class Result:
    """What one POST came to: a status code, or an error name (never the URL)."""

    status_code: int | None
    error: str | None
    duration_ms: int
    response_body: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signature(webhook_id: str, at: datetime, body: str, settings: Settings) -> str:
    """`v1,<sig>` for every PLATFORM_WEBHOOK_SECRETS entry, space-separated: during a rotation
    a receiver holding either secret verifies."""
    return " ".join(
        Webhook(secret.get_secret_value()).sign(webhook_id, at, body)
        for secret in settings.platform_webhook_secrets
    )


def headers(row: PlatformEvent, body: str, at: datetime, settings: Settings) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": row.webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature(row.webhook_id, at, body, settings),
    }


def response_text(received: bytes) -> str:
    """The first RESPONSE_BODY_BYTES as text: undecodable bytes and NUL (PostgreSQL text
    cannot hold it) become U+FFFD."""
    text = received[:RESPONSE_BODY_BYTES].decode("utf-8", errors="replace")
    return text.replace("\x00", "\ufffd")


async def _exchange(
    url: str, body: str, sent_headers: dict[str, str], timeout: float
) -> tuple[int, bytes]:
    """The status code, and the body's first bytes as far as they came by the deadline (a
    huge answer costs RESPONSE_BODY_BYTES, raw: no content decoding)."""
    deadline = asyncio.get_running_loop().time() + timeout
    received = bytearray()
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        async with asyncio.timeout_at(deadline):  # cancelling closes the connection
            request = client.build_request("POST", url, content=body.encode(), headers=sent_headers)
            response = await client.send(request, stream=True)
        try:
            async with asyncio.timeout_at(deadline):
                async for chunk in response.aiter_raw():
                    received += chunk
                    if len(received) >= RESPONSE_BODY_BYTES:
                        break
        except (TimeoutError, httpx.HTTPError):
            pass  # the status line came in time: the attempt is judged by it
        finally:
            await response.aclose()
    return response.status_code, bytes(received)


def error_name(exc: Exception) -> str:
    """A failed POST's name (its message holds the URL): the names the attempts kept before
    httpx, so old and new rows read alike."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
        return "ConnectionError"
    return type(exc).__name__


def post(url: str, body: str, sent_headers: dict[str, str], timeout: float) -> Result:
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    received: str | None = None
    try:
        status, raw = asyncio.run(_exchange(url, body, sent_headers, timeout))
    except (TimeoutError, httpx.HTTPError) as exc:
        error = error_name(exc)
    else:
        received = response_text(raw)
        if 300 <= status < 400:
            error = f"redirect {status} not followed"
        elif not 200 <= status < 300:
            error = f"HTTP {status}"
    return Result(status, error, int((time.monotonic() - started) * 1000), received)


def deliver(event_id: int, *, settings: Settings | None = None) -> str:
    """Claim the row and POST it. Returns delivered, retrying, failed, held, busy or
    skipped."""
    settings = settings or get_settings()
    if settings.platform_webhook_url is None:
        return "skipped"
    with session_scope() as session:
        claimed = repository.claim(session, event_id, now=utcnow(), settings=settings)
        if claimed is None or claimed in (BUSY, HELD):
            return "skipped" if claimed is None else str(claimed)
        assert isinstance(claimed, PlatformEvent)
        session.flush()
        session.expunge(claimed)  # read after the commit, without a session
    body = events.body(claimed, settings)
    at = utcnow()
    result = post(
        settings.platform_webhook_url,
        body,
        headers(claimed, body, at, settings),
        settings.platform_webhook_timeout_seconds,
    )
    with session_scope() as session:
        outcome = finish(session, claimed, at, result, settings)
    log.info(
        "platform_webhook_attempt",
        event_id=event_id,
        type=claimed.type,
        webhook_id=claimed.webhook_id,
        outcome=outcome,
        status_code=result.status_code,
        error=result.error,
    )
    return outcome


def finish(
    session: Session, claimed: PlatformEvent, at: datetime, result: Result, settings: Settings
) -> str:
    """Record the attempt and the endpoint's standing; the row delivered (its key's next held
    event released), due again after its backoff, held (the endpoint is disabled), or failed."""
    assert claimed.id is not None
    now = utcnow()
    # the endpoint's lock first, then the row's: every finish takes them in this order
    disabled = endpoint.record_outcome(
        session,
        ok=result.ok,
        at=at,
        now=now,
        hours=settings.platform_webhook_disable_after_hours,
    )
    if disabled:
        log.warning("platform_endpoint_disabled", event_id=claimed.id)
    session.add(
        PlatformAttempt(
            event_id=claimed.id,
            started_at=at,
            duration_ms=result.duration_ms,
            status_code=result.status_code,
            error=result.error,
            response_body=result.response_body,
        )
    )
    row = repository.lock_claimed(session, claimed.id, claimed.claimed_at)
    if row is None:
        return "skipped"  # reclaimed after a stall: the other claim decides
    row.last_error = result.error
    if result.ok:
        row.status, row.delivered_at = DeliveryStatus.DELIVERED, now
        session.add(row)
        session.flush()
        endpoint.release_held(session, now=now, sequence_key=row.sequence_key)
        return "delivered"
    if endpoint.endpoint(session).disabled_at is not None:
        row.status = DeliveryStatus.HELD
        session.add(row)
        return HELD
    window = timedelta(seconds=settings.platform_webhook_retry_window_seconds)
    if now - row.retrying_since >= window:
        delivery.release(session, PLATFORM_EVENTS, row, now=now, retry_in=None, error=result.error)
        session.flush()
        endpoint.release_held(session, now=now, sequence_key=row.sequence_key)
        return "failed"
    delay = delivery.backoff(
        row.attempts,
        base=settings.platform_webhook_retry_base_seconds,
        cap=settings.platform_webhook_retry_cap_seconds,
    )
    delivery.release(session, PLATFORM_EVENTS, row, now=now, retry_in=delay, error=result.error)
    if delay <= MAX_COUNTDOWN_SECONDS:
        publish_after_commit(session, DELIVER_PLATFORM_EVENT, [row.id], countdown=delay)
    return "retrying"


def send_test_event() -> int:
    """Write a `relink.test` event (delivered like any other); its row id."""
    with session_scope() as session:
        row = events.record(session, payloads.TEST, "test", {"hello": "relink"})
        if row is None or row.id is None:
            raise RuntimeError("PLATFORM_WEBHOOK_URL is not set")
        return row.id
