"""POST /webhooks/stripe (the account's endpoint) and POST /webhooks/stripe/connect (the
Connect endpoint, STRIPE_CONNECT=true): verify, record in the inbox, commit, then enqueue.

Two routes rather than one URL trying both secret lists: each endpoint's deliveries are
checked with that endpoint's secrets only, so an event signed for the platform's endpoint can
never pass as a Connect one (or the reverse), `relink doctor` tells the two Stripe endpoints
apart by URL (Stripe's endpoint object does not say which is Connect), and each route has one
rule: the account's endpoint refuses an event with `account`, the Connect endpoint one
without. Refused, not ignored: Stripe retries and shows the failing endpoint, so a wrong
endpoint setup is seen, and a Connect event never turns into an action on the platform's own
objects."""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from prometheus_client import Counter
from pydantic import SecretStr

from api.errors import Rejected
from api.webhooks.signature import verify_signature
from api.webhooks.thin import thin_event_header
from shared.catalog import HANDLED_EVENT_TYPES
from shared.inbox import THIN_EVENT_OBJECT, EventHeader, InboxItem, NotAnEvent
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


def parse_event_header(payload: str, signature: str, secret: str, tolerance: int) -> EventHeader:
    """A snapshot event's header, or a thin event's (verified and parsed by the SDK)."""
    try:
        event: Any = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise Rejected(400, "body_not_json", "the body is not JSON") from None
    if isinstance(event, dict) and event.get("object") == THIN_EVENT_OBJECT:
        return thin_event_header(event, payload, signature, secret, tolerance)
    try:
        return EventHeader.from_event(event, now=time.time())
    except NotAnEvent as exc:
        raise Rejected(400, "not_an_event", str(exc)) from None


async def verified_event(request: Request, stripe_signature: str | None) -> tuple[EventHeader, str]:
    """The verified event (of the platform's own objects) and its raw payload."""
    settings = get_settings()
    header, payload = await _verified(request, stripe_signature, settings.stripe_webhook_secrets)
    if header.account is not None:
        raise Rejected(
            400,
            "connect_event_on_account_endpoint",
            "the event has `account` (a connected account's): Connect events go to "
            "/webhooks/stripe/connect, with STRIPE_CONNECT=true",
        )
    return header, payload


async def verified_connect_event(
    request: Request, stripe_signature: str | None
) -> tuple[EventHeader, str]:
    """The verified event of a connected account, signed with a
    STRIPE_CONNECT_WEBHOOK_SECRETS secret; 404 while STRIPE_CONNECT is off."""
    settings = get_settings()
    if not settings.stripe_connect:
        raise Rejected(404, "connect_disabled", "STRIPE_CONNECT is off")
    secrets = settings.stripe_connect_webhook_secrets
    header, payload = await _verified(request, stripe_signature, secrets)
    if header.account is None:
        raise Rejected(
            400, "not_a_connect_event", "the event has no `account`: it is no Connect event"
        )
    return header, payload


async def _verified(
    request: Request, stripe_signature: str | None, configured: list[SecretStr]
) -> tuple[EventHeader, str]:
    """The verified event's header and raw payload; fails closed."""
    settings = get_settings()
    secrets = [secret.get_secret_value() for secret in configured]
    body = await read_limited_body(request)
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "body_not_utf8", "the body is not UTF-8") from None
    tolerance = settings.webhook_tolerance_seconds
    secret = verify_signature(payload, stripe_signature, secrets, tolerance)
    header = parse_event_header(payload, stripe_signature or "", secret, tolerance)
    if header.livemode != settings.livemode:
        mode = "live" if settings.livemode else "test"
        raise Rejected(
            400,
            "livemode_mismatch",
            f"event livemode={str(header.livemode).lower()} but STRIPE_API_KEY is a {mode} key",
        )
    return header, payload


# The routes verify inline rather than through Depends: with a sub-dependency, FastAPI's
# dependency solving held ~17 % of the receiver's samples under load (benchmarks/receiver.py
# --profile). The Stripe-Signature header stays a declared parameter, in the schema.


@router.post("/webhooks/stripe")
async def receive_stripe_webhook(
    request: Request, stripe_signature: Annotated[str | None, Header()] = None
) -> Response:
    return await _record(request, *await verified_event(request, stripe_signature))


@router.post("/webhooks/stripe/connect")
async def receive_connect_webhook(
    request: Request, stripe_signature: Annotated[str | None, Header()] = None
) -> Response:
    return await _record(request, *await verified_connect_event(request, stripe_signature))


async def _record(request: Request, header: EventHeader, payload: str) -> Response:
    item = InboxItem(header, payload, handled=header.type in HANDLED_EVENT_TYPES)
    outcome = await request.app.state.inbox_writer.submit(item)
    ACCEPTED.labels(outcome=outcome).inc()
    body = orjson.dumps({"received": True, "id": header.id, "outcome": outcome})
    return Response(body, media_type="application/json")
