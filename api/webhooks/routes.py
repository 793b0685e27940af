"""POST /webhooks/stripe: verify, record in the inbox, commit, then enqueue. Nothing more."""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response
from prometheus_client import Counter

from api.errors import Rejected
from api.webhooks.signature import verify_signature
from shared.catalog import HANDLED_EVENT_TYPES
from shared.inbox import EventHeader, InboxItem, NotAnEvent
from shared.settings import get_settings

MAX_BODY_BYTES = 256 * 1024

log = structlog.get_logger(__name__)
router = APIRouter()
ACCEPTED = Counter("relink_webhooks_accepted", "Verified webhook deliveries", ["outcome"])


async def read_limited_body(request: Request) -> bytes:
    """The raw body, refused with 413 as soon as it passes MAX_BODY_BYTES."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise Rejected(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Rejected(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_event_header(payload: str) -> EventHeader:
    try:
        event: Any = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise Rejected(400, "body_not_json", "the body is not JSON") from None
    try:
        return EventHeader.from_event(event, now=time.time())
    except NotAnEvent as exc:
        raise Rejected(400, "not_an_event", str(exc)) from None


async def verified_event(
    request: Request,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> tuple[EventHeader, str]:
    """Dependency: the verified event's header and raw payload; fails closed."""
    settings = get_settings()
    secrets = [secret.get_secret_value() for secret in settings.stripe_webhook_secrets]
    body = await read_limited_body(request)
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "body_not_utf8", "the body is not UTF-8") from None
    verify_signature(payload, stripe_signature, secrets, settings.webhook_tolerance_seconds)
    header = parse_event_header(payload)
    if header.livemode != settings.livemode:
        mode = "live" if settings.livemode else "test"
        raise Rejected(
            400,
            "livemode_mismatch",
            f"event livemode={str(header.livemode).lower()} but STRIPE_API_KEY is a {mode} key",
        )
    return header, payload


@router.post("/webhooks/stripe")
async def receive_stripe_webhook(
    request: Request,
    event: Annotated[tuple[EventHeader, str], Depends(verified_event)],
) -> Response:
    header, payload = event
    item = InboxItem(header, payload, handled=header.type in HANDLED_EVENT_TYPES)
    outcome = await request.app.state.inbox_writer.submit(item)
    ACCEPTED.labels(outcome=outcome).inc()
    body = orjson.dumps({"received": True, "id": header.id, "outcome": outcome})
    return Response(body, media_type="application/json")
