"""Who to write to, and in which language: the contact the platform set through the API
(shared/contacts.py), its email and `locale`, else the Stripe Customer's email and
`preferred_locales` (or the connected account's email), looked up live and cached in-process
for CONTACT_CACHE_SECONDS. Both are the case's own Stripe account's (Connect): a contact set
for acct_A, or a cached address of acct_A's `cus_…`, never serves acct_B's same-id subject.
Addresses never reach a log."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import stripe

from shared.contacts import stored_contact
from shared.db import session_scope
from shared.i18n import resolve_locale
from shared.settings import get_settings
from shared.stripe_client import Holder, retrieve_holder

# (stripe_account, holder_type, holder_id) → (holder, expiry)
_cache: dict[tuple[str, str, str], tuple[Holder, float]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Recipient:
    email: str
    locale: str  # a supported one (shared/i18n.py)


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
) -> Recipient | None:
    """The platform's contact for the holder or the account on `stripe_account` (the case's),
    in its locale; else the holder's email address at Stripe, in the Customer's first
    supported preferred locale; DEFAULT_LOCALE when neither names one; None when there is no
    address. A stored contact is never completed from Stripe (no lookup for it)."""
    default = get_settings().default_locale
    with session_scope() as session:
        stored = stored_contact(
            session, holder_type, holder_id, account_id, stripe_account=stripe_account
        )
        if stored is not None:
            return Recipient(stored.email, resolve_locale(stored.locale, (), default))
    if holder_type not in ("customer", "account") or not holder_id:
        return None
    key = (stripe_account, holder_type, holder_id)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
    if cached is not None and cached[1] > now:
        holder = cached[0]
    else:
        holder = retrieve_holder(client, holder_type, holder_id)
        ttl = get_settings().contact_cache_seconds
        if ttl > 0:
            with _lock:
                _cache[key] = (holder, now + ttl)
    if holder.email is None:
        return None
    return Recipient(holder.email, resolve_locale(None, holder.preferred_locales, default))
