"""Thin events (an event destination with `event_payload: thin`): a `v2.core.event` that
names its related object instead of carrying it, signed like a snapshot event. The SDK
verifies and parses it (`StripeClient.parse_event_notification`); the worker fetches the
object (worker/inbox/thin.py)."""

from __future__ import annotations

import time
from typing import Any

import stripe

from api.webhooks.signature import SignatureRefused
from shared.events.catalog import HANDLED_EVENT_TYPES
from shared.events.inbox import EventHeader, NotAnEvent

# Parses only: the receiver never calls Stripe, so the client needs no real key.
_PARSER = stripe.StripeClient("sk_thin_event_parser", http_client=stripe.RequestsClient())


def thin_event_header(
    event: dict[str, Any], payload: str, signature: str, secret: str, tolerance: int
) -> EventHeader:
    """The header of a thin event whose signature `secret` verified, checked field by field
    and then verified and parsed by the SDK (a body its typed class cannot read is a 400)."""
    header = EventHeader.from_thin_event(event, now=time.time(), handled=HANDLED_EVENT_TYPES)
    try:
        _PARSER.parse_event_notification(payload, signature, secret, tolerance)
    except stripe.SignatureVerificationError:
        raise SignatureRefused("the thin event does not verify", "signature_mismatch") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise NotAnEvent(f"the SDK cannot parse the thin event: {type(exc).__name__}") from None
    return header
