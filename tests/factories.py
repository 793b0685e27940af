"""Small keyword factories for Stripe objects and signed webhook deliveries."""

from __future__ import annotations

import itertools
import time
from typing import Any

import orjson
import stripe

_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):014d}"


def fc_account(**overrides: Any) -> dict[str, Any]:
    account: dict[str, Any] = {
        "id": next_id("fca"),
        "object": "financial_connections.account",
        "account_holder": {"type": "customer", "customer": "cus_Test0001"},
        "authorization": "fcauth_Test0001",
        "balance": None,
        "category": "cash",
        "created": 1767225600,
        "display_name": "Everyday Checking",
        "institution_name": "StripeBank",
        "last4": "6789",
        "livemode": False,
        "permissions": ["payment_method", "balances"],
        "status": "inactive",
        "status_details": {"inactive": {"action": "relink_required", "cause": "access_expired"}},
        "subcategory": "checking",
        "subscriptions": [],
        "supported_payment_method_types": ["us_bank_account"],
    }
    account.update(overrides)
    return account


def event(
    type: str = "financial_connections.account.deactivated",
    obj: dict[str, Any] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    evt: dict[str, Any] = {
        "id": next_id("evt"),
        "object": "event",
        "api_version": "2026-09-30.preview",
        "created": int(time.time()),
        "type": type,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": obj if obj is not None else fc_account()},
    }
    evt.update(overrides)
    return evt


def body_of(evt: dict[str, Any]) -> bytes:
    return orjson.dumps(evt)


def signature(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header, built with the SDK's own scheme."""
    return stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp if timestamp is not None else int(time.time())
    )


def thin_event(
    type: str = "v1.financial_connections.account.deactivated",
    account_id: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A thin event notification (`v2.core.event`), as an event destination delivers it."""
    related = account_id or next_id("fca")
    evt: dict[str, Any] = {
        "id": next_id("evt"),
        "object": "v2.core.event",
        "type": type,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "livemode": False,
        "context": None,
        "reason": None,
        "related_object": {
            "id": related,
            "type": "financial_connections.account",
            "url": f"/v1/financial_connections/accounts/{related}",
        },
    }
    evt.update(overrides)
    return evt
