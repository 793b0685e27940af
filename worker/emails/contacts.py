"""Who to write to: the Stripe Customer's email, or the connected account's, looked up live
and cached in-process for CONTACT_CACHE_SECONDS. Addresses never reach a log."""

from __future__ import annotations

import threading
import time
from typing import Any

import stripe

from shared.settings import get_settings

_cache: dict[tuple[str, str], tuple[str | None, float]] = {}
_lock = threading.Lock()


def clear_contact_cache() -> None:
    with _lock:
        _cache.clear()


def resolve_recipient(
    client: stripe.StripeClient, holder_type: str | None, holder_id: str | None
) -> str | None:
    """The holder's email address, or None when there is no holder, no such object or no
    address on file."""
    if holder_type not in ("customer", "account") or not holder_id:
        return None
    key = (holder_type, holder_id)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
    if cached is not None and cached[1] > now:
        return cached[0]
    email = _lookup(client, holder_type, holder_id)
    ttl = get_settings().contact_cache_seconds
    if ttl > 0:
        with _lock:
            _cache[key] = (email, now + ttl)
    return email


def _lookup(client: stripe.StripeClient, holder_type: str, holder_id: str) -> str | None:
    try:
        if holder_type == "customer":
            found: Any = client.v1.customers.retrieve(holder_id)
        else:
            found = client.v1.accounts.retrieve(holder_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise
    data = found.to_dict()
    if data.get("deleted"):
        return None
    email = data.get("email")
    return email if isinstance(email, str) and "@" in email else None
