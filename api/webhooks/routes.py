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
from typing import Any

import orjson
import structlog
from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import Counter
from pydantic import SecretStr

from api.bodies import BodyTooLarge
from api.errors import documented
from api.webhooks.signature import verify_signature
from api.webhooks.thin import thin_event_header
from shared.errors import InvalidRequestError, NotFoundError
from shared.events.catalog import HANDLED_EVENT_TYPES
from shared.events.inbox import THIN_EVENT_OBJECT, EventHeader, InboxItem
from shared.settings import get_settings

MAX_BODY_BYTES = 256 * 1024

log = structlog.get_logger(__name__)
router = APIRouter()
ACCEPTED = Counter("relink_webhooks_accepted", "Verified webhook deliveries", ["outcome"])


def declared_too_large(content_length: str | None) -> bool:
    """A Content-Length that is not a number, or over MAX_BODY_BYTES: refused before reading."""
    return content_length is not None and (
        not content_length.isdigit() or int(content_length) > MAX_BODY_BYTES
    )


def too_large() -> BodyTooLarge:
    return BodyTooLarge(f"the body exceeds {MAX_BODY_BYTES} bytes", "body_too_large")


def parse_event_header(payload: str, signature: str, secret: str, tolerance: int) -> EventHeader:
    """A snapshot event's header, or a thin event's (verified and parsed by the SDK);
    NotAnEvent (400 `not_an_event`) names what is wrong with one."""
    try:
        event: Any = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise InvalidRequestError("the body is not JSON", "body_not_json") from None
    if isinstance(event, dict) and event.get("object") == THIN_EVENT_OBJECT:
        return thin_event_header(event, payload, signature, secret, tolerance)
    return EventHeader.from_event(event, now=time.time())


def verified_event(body: bytes, stripe_signature: str | None) -> tuple[EventHeader, str]:
    """The verified event (of the platform's own objects) and its raw payload."""
    settings = get_settings()
    header, payload = _verified(body, stripe_signature, settings.stripe_webhook_secrets)
    if header.account is not None:
        raise InvalidRequestError(
            "the event has `account` (a connected account's): Connect events go to "
            "/webhooks/stripe/connect, with STRIPE_CONNECT=true",
            "connect_event_on_account_endpoint",
        )
    return header, payload


def verified_connect_event(body: bytes, stripe_signature: str | None) -> tuple[EventHeader, str]:
    """The verified event of a connected account, signed with a
    STRIPE_CONNECT_WEBHOOK_SECRETS secret; 404 while STRIPE_CONNECT is off."""
    settings = get_settings()
    if not settings.stripe_connect:
        raise NotFoundError("STRIPE_CONNECT is off", "connect_disabled")
    secrets = settings.stripe_connect_webhook_secrets
    header, payload = _verified(body, stripe_signature, secrets)
    if header.account is None:
        raise InvalidRequestError(
            "the event has no `account`: it is no Connect event", "not_a_connect_event"
        )
    return header, payload


def _verified(
    body: bytes, stripe_signature: str | None, configured: list[SecretStr]
) -> tuple[EventHeader, str]:
    """The verified event's header and raw payload; fails closed."""
    settings = get_settings()
    secrets = [secret.get_secret_value() for secret in configured]
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("the body is not UTF-8", "body_not_utf8") from None
    tolerance = settings.webhook_tolerance_seconds
    secret = verify_signature(payload, stripe_signature, secrets, tolerance)
    header = parse_event_header(payload, stripe_signature or "", secret, tolerance)
    if header.livemode != settings.livemode:
        mode = "live" if settings.livemode else "test"
        raise InvalidRequestError(
            f"event livemode={str(header.livemode).lower()} but STRIPE_API_KEY is a {mode} key",
            "livemode_mismatch",
        )
    return header, payload


ENDPOINTS = {
    "/webhooks/stripe": verified_event,
    "/webhooks/stripe/connect": verified_connect_event,
}


def accepted(header: EventHeader, payload: str) -> InboxItem:
    return InboxItem(header, payload, handled=header.type in HANDLED_EVENT_TYPES)


def accepted_body(header: EventHeader, outcome: str) -> bytes:
    ACCEPTED.labels(outcome=outcome).inc()
    return orjson.dumps({"received": True, "id": header.id, "outcome": outcome})


# The operations as the OpenAPI schema (and the fuzz suite) sees them. Every POST to these
# paths is served before routing by api.webhooks.receiver (FastAPI's request handling cost
# more than an empty endpoint's whole request); the routes answer the other methods (405).
# The header is declared here rather than as a FastAPI parameter, which would document a 422
# that FastAPI never gets to answer.

SIGNATURE_HEADER = {
    "parameters": [
        {
            "name": "stripe-signature",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
        }
    ]
}
REFUSALS = {
    400: "a check failed (`code` names it): the signature, the body, the event, livemode or "
    "the endpoint's Connect rule",
    413: f"a body over {MAX_BODY_BYTES} bytes",
    500: "the event could not be recorded",
    503: "no webhook secret is configured, or the database is down: Stripe retries",
}


@router.post("/webhooks/stripe", responses=documented(REFUSALS), openapi_extra=SIGNATURE_HEADER)
async def receive_stripe_webhook() -> Response:
    raise RuntimeError("POST /webhooks/stripe is served by api.webhooks.receiver")


@router.post(
    "/webhooks/stripe/connect",
    responses=documented({**REFUSALS, 404: "STRIPE_CONNECT is off"}),
    openapi_extra=SIGNATURE_HEADER,
)
async def receive_connect_webhook() -> Response:
    raise RuntimeError("POST /webhooks/stripe/connect is served by api.webhooks.receiver")
