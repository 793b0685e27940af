"""How the relink page spends Stripe calls: a case's request token first (limits.take), then
the api's own client (shared.stripe_client.make_page_stripe_client); a Stripe error becomes
StripeUnavailable and a Stripe budget that cannot serve in time becomes Busy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import stripe
import structlog

from api.relink_page import limits
from api.relink_page.outcomes import Busy, StripeUnavailable
from shared import stripe_client
from shared.models import RelinkCase
from shared.ratelimit import RateLimitTimeout

log = structlog.get_logger(__name__)
T = TypeVar("T")


@contextmanager
def stripe_errors(what: str) -> Iterator[None]:
    try:
        yield
    except stripe.StripeError as exc:
        log.warning("stripe_call_failed", call=what, code=exc.code, status=exc.http_status)
        raise StripeUnavailable(f"Stripe refused {what}") from None
    except RateLimitTimeout as exc:
        log.warning("stripe_budget_spent", call=what, wait=round(exc.wait, 3))
        raise Busy(f"no Stripe token for {what}", retry_after=limits.RETRY_AFTER_SECONDS) from None


def call(what: str, request: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`request(*args, **kwargs)`, one of shared.stripe_client's calls, with errors mapped."""
    with stripe_errors(what):
        return request(*args, **kwargs)


def best_effort(request: Callable[..., T], *args: Any) -> T | None:
    """A call whose answer only words the page: None when Stripe cannot give it."""
    try:
        return request(*args)
    except (stripe.StripeError, RateLimitTimeout):
        return None


def client_for(case: RelinkCase) -> stripe.StripeClient:
    """The case's request token (or Busy), then the api's Stripe client on the case's Stripe
    account (`Stripe-Account` for a connected account's case)."""
    assert case.id is not None
    limits.take(case.id)
    return stripe_client.make_page_stripe_client(stripe_account=case.stripe_account)
