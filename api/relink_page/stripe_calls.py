"""How the relink page spends Stripe calls: a case's request token first (`take`: one token
bucket per case, api/request_limits.py, PAGE_CASE_REQUESTS_PER_MINUTE tokens a minute, a
minute's worth as the burst; a request without a token is answered 503 at once), then
the api's own client (shared.stripe_client.make_page_stripe_client); a Stripe error becomes
StripeUnavailable and a Stripe budget that cannot serve in time becomes Busy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import stripe
import structlog

from api import request_limits
from api.relink_page.outcomes import Busy, StripeUnavailable
from shared import stripe_client
from shared.models import RelinkCase
from shared.ratelimit import RateLimitTimeout
from shared.settings import Settings, get_settings

log = structlog.get_logger(__name__)
T = TypeVar("T")

LIMIT_NAME = "relink_page_case"
RETRY_AFTER_SECONDS = 60


def take(case_id: int, settings: Settings | None = None) -> None:
    """One request's token for this case, or Busy."""
    settings = settings or get_settings()
    if not request_limits.take(
        LIMIT_NAME, str(case_id), settings.page_case_requests_per_minute, settings
    ):
        raise Busy(f"case {case_id}: too many requests", retry_after=RETRY_AFTER_SECONDS)


def reset() -> None:
    """Forget every case's bucket (tests)."""
    request_limits.reset()


@contextmanager
def stripe_errors(what: str) -> Iterator[None]:
    try:
        yield
    except stripe.StripeError as exc:
        log.warning("stripe_call_failed", call=what, code=exc.code, status=exc.http_status)
        raise StripeUnavailable(f"Stripe refused {what}") from None
    except RateLimitTimeout as exc:
        log.warning("stripe_budget_spent", call=what, wait=round(exc.wait, 3))
        raise Busy(f"no Stripe token for {what}", retry_after=RETRY_AFTER_SECONDS) from None


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
    take(case.id)
    return stripe_client.make_page_stripe_client(stripe_account=case.stripe_account)
