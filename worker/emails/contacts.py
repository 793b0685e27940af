"""Who to write to, and in which language: the contact the platform set through the API
(shared/cases/contacts.py), its email and `locale`, else the Stripe Customer's email and
`preferred_locales` (or the connected account's email), looked up live (a Customer also for
a contact without a supported locale) and cached in-process
for CONTACT_CACHE_SECONDS. Both are the case's own Stripe account's (Connect): a contact set
for acct_A, or a cached address of acct_A's `cus_…`, never serves acct_B's same-id subject.
Addresses never reach a log."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import stripe
import structlog

from shared.cases.contacts import stored_contact
from shared.db import session_scope
from shared.i18n import resolve_locale, supported_locale
from shared.settings import get_settings
from shared.stripe_client import Holder, retrieve_holder

log = structlog.get_logger(__name__)
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
    else the holder's email address at Stripe; None when there is neither. In the contact's
    locale, else the Customer's first supported preferred locale (looked up for a contact
    without one too), else DEFAULT_LOCALE."""
    default = get_settings().default_locale
    with session_scope() as session:
        stored = stored_contact(
            session, holder_type, holder_id, account_id, stripe_account=stripe_account
        )
        email, locale = (stored.email, stored.locale) if stored else (None, None)
    if email is not None:
        if supported_locale(locale) or holder_type != "customer" or not holder_id:
            return Recipient(email, resolve_locale(locale, (), default))
        try:  # only the Customer's language is missing: never hold the email back for it
            preferred = _holder(client, (stripe_account, holder_type, holder_id)).preferred_locales
        except stripe.StripeError as exc:
            log.warning("customer_locale_unavailable", error=type(exc).__name__)
            preferred = ()
        return Recipient(email, resolve_locale(None, preferred, default))
    if holder_type not in ("customer", "account") or not holder_id:
        return None
    holder = _holder(client, (stripe_account, holder_type, holder_id))
    if holder.email is None:
        return None
    return Recipient(holder.email, resolve_locale(None, holder.preferred_locales, default))


def _holder(client: stripe.StripeClient, key: tuple[str, str, str]) -> Holder:
    """The holder at Stripe, cached for CONTACT_CACHE_SECONDS."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
    if cached is not None and cached[1] > now:
        return cached[0]
    holder = retrieve_holder(client, key[1], key[2])
    ttl = get_settings().contact_cache_seconds
    if ttl > 0:
        with _lock:
            _cache[key] = (holder, now + ttl)
    return holder
