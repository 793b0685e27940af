"""A thin event (`v2.core.event`) becomes the snapshot event its handler reads: the SDK
parses the stored notification, the related account is fetched at STRIPE_API_VERSION
(shared.stripe_client, under the shared Stripe budget, on the `context` account) and put
where a snapshot carries it, `data.object`. The fetch reads the account as it is now, which
may be newer than the event: the handlers already judge a snapshot by its state (a
deactivation whose account is active again opens nothing)."""

from __future__ import annotations

from typing import Any

import stripe
from stripe.v2.core import EventNotification

from shared.events.catalog import THIN_EVENT_PREFIX
from shared.events.inbox import THIN_EVENT_OBJECT, iso_seconds
from shared.stripe_client import StripeNotConfigured, fetch_related_object, make_stripe_client
from worker.errors import PermanentEventError

ACCOUNT_URL_PREFIX = "/v1/financial_connections/accounts/"
_PARSER = stripe.StripeClient("sk_thin_event_parser", http_client=stripe.RequestsClient())


def is_thin(event: dict[str, Any]) -> bool:
    return event.get("object") == THIN_EVENT_OBJECT


def hydrate(event: dict[str, Any]) -> dict[str, Any]:
    """The snapshot-shaped event of a thin one (a snapshot event is returned as it is).
    Stripe's transient errors propagate (the event is retried); a notification the SDK
    cannot read, or a related object Stripe refuses, is a permanent error."""
    if not is_thin(event):
        return event
    event_id = str(event.get("id"))
    try:
        notification = EventNotification.from_json(event, _PARSER)
        related: Any = getattr(notification, "related_object", None)  # not on every class
        context = str(notification.context) if notification.context else ""
        url, object_type = str(related.url), str(related.type)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise PermanentEventError(event_id, f"unreadable thin event: {exc}") from exc
    if object_type != "financial_connections.account" or not url.startswith(ACCOUNT_URL_PREFIX):
        raise PermanentEventError(event_id, f"related object {object_type} {url} is no account")
    try:
        found = fetch_related_object(make_stripe_client(stripe_account=context), event_id, url)
    except StripeNotConfigured as exc:
        raise PermanentEventError(event_id, "a thin event needs STRIPE_API_KEY") from exc
    except stripe.InvalidRequestError as exc:
        raise PermanentEventError(event_id, f"cannot fetch the related object: {exc}") from exc
    return {
        "id": event_id,
        "object": "event",
        "type": notification.type.removeprefix(THIN_EVENT_PREFIX),
        "created": iso_seconds(event.get("created")) or 0,
        "livemode": notification.livemode,
        **({"account": context} if context else {}),
        "data": {"object": found},
    }
