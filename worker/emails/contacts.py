"""Who to write to: the contact the platform set through the API (shared/contacts.py), else
the Stripe Customer's email, or the connected account's, looked up live and cached
in-process for CONTACT_CACHE_SECONDS. Both are the case's own Stripe account's (Connect): a
contact set for acct_A, or a cached address of acct_A's `cus_…`, never serves acct_B's
same-id subject. Addresses never reach a log."""

from __future__ import annotations

import threading
import time

import stripe

from shared.contacts import stored_email
from shared.db import session_scope
from shared.settings import get_settings
from shared.stripe_client import retrieve_holder_email

# (stripe_account, holder_type, holder_id) → (address, expiry)
_cache: dict[tuple[str, str, str], tuple[str | None, float]] = {}
_lock = threading.Lock()


def clear_contact_cache() -> None:
    with _lock:
        _cache.clear()


def resolve_recipient(
    client: stripe.StripeClient,
    holder_type: str | None,
    holder_id: str | None,
    account_id: str | None = None,
    *,
    stripe_account: str,
) -> str | None:
    """The platform's contact for the holder or the account on `stripe_account` (the case's),
    else the holder's email address at Stripe; None when there is neither."""
    with session_scope() as session:
        stored = stored_email(
            session, holder_type, holder_id, account_id, stripe_account=stripe_account
        )
    if stored is not None:
        return stored
    if holder_type not in ("customer", "account") or not holder_id:
        return None
    key = (stripe_account, holder_type, holder_id)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
    if cached is not None and cached[1] > now:
        return cached[0]
    email = retrieve_holder_email(client, holder_type, holder_id)
    ttl = get_settings().contact_cache_seconds
    if ttl > 0:
        with _lock:
            _cache[key] = (email, now + ttl)
    return email
