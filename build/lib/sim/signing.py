"""Webhook signatures exactly as Stripe computes them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """`Stripe-Signature` value: `t=<unix>,v1=<hmac>` plus the fake `v0` test mode adds."""
    t = int(time.time()) if timestamp is None else timestamp
    v1 = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={v1},v0={secrets.token_hex(32)}"


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(16)
