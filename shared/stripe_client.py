"""The one place that builds a StripeClient and makes the calls that need a preview version."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast
from urllib.parse import quote

import stripe
from stripe import RequestOptions

from shared.cases.contacts import EMAIL
from shared.connect import current_account
from shared.delivery import backoff
from shared.errors import UnavailableError
from shared.ratelimit import acquire
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)

# A 429 that gets past the shared limiter is retried here, apart from the SDK's own network
# retries (which it would otherwise use up, or which it skips for a 429 without
# `Stripe-Should-Retry: true`), so a busy moment is never a failed event. The delay is the
# outboxes' backoff policy (shared/delivery.py) on a scale of seconds: it is slept inside the
# request, where an outbox row waits minutes to hours between its tries.
RATE_LIMITED_RETRIES = 6
RATE_LIMITED_BACKOFF_BASE = 0.5
RATE_LIMITED_BACKOFF_CAP = 8.0

Response = tuple[Any, int, Mapping[str, str]]


class _Transport(Protocol):
    """The SDK's RequestsClient as this subclass calls it: the SDK leaves `post_data`, the
    constructor's `_lib` and `**kwargs`, and `raw_request`'s parameters untyped."""

    def __init__(self, **kwargs: Any) -> None: ...

    def request(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> Response: ...

    def request_stream(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> Response: ...


class _RawRequests(Protocol):
    def raw_request(self, method_: str, url_: str, **params: Any) -> stripe.StripeResponse: ...


class RateLimitedRequestsClient(stripe.RequestsClient):
    """The SDK's requests client, taking a token from the shared `stripe` bucket before every
    request it sends (retries included) and retrying 429s after a jittered backoff unless
    Stripe answers `Stripe-Should-Retry: false`."""

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        limit_name: str = "stripe",
        max_wait: float | None = None,
        rate_limited_retries: int = RATE_LIMITED_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        cast(_Transport, super()).__init__(**kwargs)
        self._settings = settings
        self._limit_name = limit_name
        self._max_wait = max_wait  # None: wait for a token as long as it takes
        self._retries = rate_limited_retries
        self._sleep = sleep

    def request(  # type: ignore[override]
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> Response:
        return self._limited(cast(_Transport, super()).request, method, url, headers, post_data)

    def request_stream(  # type: ignore[override]
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> Response:
        parent = cast(_Transport, super())
        return self._limited(parent.request_stream, method, url, headers, post_data)

    def _limited(
        self,
        send: Callable[..., Response],
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any,
    ) -> Response:
        retries = 0
        while True:
            acquire(
                self._limit_name, timeout=self._max_wait, settings=self._settings, sleep=self._sleep
            )
            content, status, response_headers = send(method, url, headers, post_data)
            if status != 429 or retries >= self._retries:
                return content, status, response_headers
            if str(response_headers.get("stripe-should-retry", "")).lower() == "false":
                return content, status, response_headers
            retries += 1
            delay = backoff(retries, base=RATE_LIMITED_BACKOFF_BASE, cap=RATE_LIMITED_BACKOFF_CAP)
            log.warning("stripe answered 429; retry %d in %.2fs", retries, delay)
            if hasattr(content, "close"):  # a streamed body we will not read
                content.close()
            self._sleep(delay)


class StripeNotConfigured(UnavailableError):
    """STRIPE_API_KEY is not set, so relink cannot call Stripe."""

    code = "stripe_not_configured"


def make_stripe_client(
    settings: Settings | None = None, *, stripe_account: str | None = None
) -> stripe.StripeClient:
    """The workers' client: the shared `stripe` budget, waits for a token, two retries; on
    `stripe_account` (default: the account acting now, shared.connect)."""
    return _client(settings, stripe_account, max_network_retries=2, timeout=30)


def make_page_stripe_client(
    settings: Settings | None = None, *, stripe_account: str | None = None
) -> stripe.StripeClient:
    """The api's client, for the relink page where a customer waits: its own `stripe_page`
    budget (PAGE_STRIPE_RATE_LIMIT, apart from the workers'), RateLimitTimeout instead of a
    wait longer than PAGE_STRIPE_MAX_WAIT_SECONDS, one retry and a 10 s timeout."""
    settings = settings or get_settings()
    return _client(
        settings,
        stripe_account,
        max_network_retries=1,
        limit_name="stripe_page",
        max_wait=settings.page_stripe_max_wait_seconds,
        rate_limited_retries=1,
        timeout=10,
    )


def _client(
    settings: Settings | None,
    stripe_account: str | None,
    *,
    max_network_retries: int,
    **http: Any,
) -> stripe.StripeClient:
    """Every request carries `Stripe-Account` when the client acts on a connected account."""
    settings = settings or get_settings()
    if settings.stripe_api_key is None:
        raise StripeNotConfigured("STRIPE_API_KEY is not set")
    account = current_account() if stripe_account is None else stripe_account
    return stripe.StripeClient(
        settings.stripe_api_key.get_secret_value(),
        stripe_account=account or None,
        base_addresses={"api": settings.stripe_api_base},
        max_network_retries=max_network_retries,
        http_client=RateLimitedRequestsClient(settings=settings, **http),
    )


def preview_options(settings: Settings | None = None) -> RequestOptions:
    """Request options for calls whose answer must carry preview fields."""
    return {"stripe_version": (settings or get_settings()).stripe_api_version}


def retrieve_account(client: stripe.StripeClient, account_id: str) -> dict[str, Any]:
    """The account at STRIPE_API_VERSION (with `authorization`, `status_details.inactive`)."""
    account = client.v1.financial_connections.accounts.retrieve(
        account_id, options=preview_options()
    )
    return account.to_dict()


def retrieve_authorization(client: stripe.StripeClient, authorization_id: str) -> dict[str, Any]:
    """The authorization (a preview endpoint the GA SDK does not model), at STRIPE_API_VERSION."""
    response = cast(_RawRequests, client).raw_request(
        "get",
        f"/v1/financial_connections/authorizations/{quote(authorization_id, safe='')}",
        stripe_version=get_settings().stripe_api_version,
    )
    return dict(client.deserialize(response, api_mode="V1").to_dict())


def fetch_related_object(client: stripe.StripeClient, event_id: str, url: str) -> dict[str, Any]:
    """A thin event's `related_object.url`, at STRIPE_API_VERSION (the SDK's own
    `fetch_related_object` would ask at its pinned version, without the preview fields)."""
    response = cast(_RawRequests, client).raw_request(
        "get",
        url,
        stripe_version=get_settings().stripe_api_version,
        headers={"Stripe-Request-Trigger": f"event={event_id}"},
    )
    return dict(client.deserialize(response, api_mode="V1").to_dict())


def list_holder_accounts(
    client: stripe.StripeClient,
    holder_type: str,
    holder_id: str,
    *,
    page_size: int = 100,
    max_pages: int = 10,
) -> list[dict[str, Any]]:
    """Every account of an account holder (`account_holder[customer]` or `[account]`), at
    STRIPE_API_VERSION so each carries its `authorization`; at most `max_pages` pages."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"account_holder": {holder_type: holder_id}, "limit": page_size}
    for _ in range(max_pages):
        page = client.v1.financial_connections.accounts.list(
            params=params,  # type: ignore[arg-type]
            options=preview_options(),  # type: ignore[arg-type]
        ).to_dict()
        data = list(page.get("data") or [])
        found.extend(data)
        if not page.get("has_more") or not data:
            break
        params = {**params, "starting_after": data[-1]["id"]}
    return found


def list_events_page(
    client: stripe.StripeClient,
    *,
    created_gte: int,
    starting_after: str | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], bool]:
    """One page of `financial_connections.*` events created at or after `created_gte`,
    newest first, and whether more follow."""
    params: dict[str, Any] = {
        "type": "financial_connections.*",
        "created": {"gte": created_gte},
        "limit": limit,
    }
    if starting_after is not None:
        params["starting_after"] = starting_after
    page = client.v1.events.list(params=params).to_dict()  # type: ignore[arg-type]
    return list(page.get("data") or []), bool(page.get("has_more"))


# The relink page's calls (api/relink_page), each at STRIPE_API_VERSION.


def create_fc_session(
    client: stripe.StripeClient, params: dict[str, Any], *, idempotency_key: str
) -> dict[str, Any]:
    """A Financial Connections Session (`relink_options` is a preview parameter). The answer
    holds its `client_secret`: for the page body only."""
    session = client.v1.financial_connections.sessions.create(
        params=params,  # type: ignore[arg-type]  (preview parameters the GA types lack)
        options={**preview_options(), "idempotency_key": idempotency_key},
    )
    return session.to_dict()


def retrieve_fc_session(client: stripe.StripeClient, session_id: str) -> dict[str, Any]:
    """A session with its `status` and `relink_result` (preview fields) and `client_secret`."""
    session = client.v1.financial_connections.sessions.retrieve(
        session_id, options=preview_options()
    )
    return session.to_dict()


def create_setup_intent(
    client: stripe.StripeClient, params: dict[str, Any], *, idempotency_key: str
) -> dict[str, Any]:
    intent = client.v1.setup_intents.create(
        params=params,  # type: ignore[arg-type]  (built as a plain dict by the page)
        options={**preview_options(), "idempotency_key": idempotency_key},
    )
    return intent.to_dict()


def retrieve_setup_intent(client: stripe.StripeClient, setup_intent_id: str) -> dict[str, Any]:
    intent = client.v1.setup_intents.retrieve(setup_intent_id, options=preview_options())
    return intent.to_dict()


def retrieve_customer_name(client: stripe.StripeClient, customer_id: str) -> str | None:
    """The name on a Customer (and nothing else of it: the page never sees its email)."""
    customer = client.v1.customers.retrieve(customer_id)
    name = customer.to_dict().get("name")
    return name if isinstance(name, str) and name else None


@dataclass(frozen=True)
class Holder:
    email: str | None
    preferred_locales: tuple[str, ...] = ()  # a Customer's; a connected account has none


def retrieve_holder(client: stripe.StripeClient, holder_type: str, holder_id: str) -> Holder:
    """The email address on a Customer (`customer`) or a connected account (`account`), and a
    Customer's `preferred_locales`; no address when the object is gone, deleted or has none."""
    try:
        if holder_type == "customer":
            found: Any = client.v1.customers.retrieve(holder_id)
        else:
            found = client.v1.accounts.retrieve(holder_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return Holder(None)
        raise
    data = found.to_dict()
    if data.get("deleted"):
        return Holder(None)
    email = data.get("email")
    locales: list[object] = data.get("preferred_locales") or []
    # One plain address, as a platform contact must be: Stripe stores the field as typed, and
    # "victim@…, attacker@…" would be two recipients of the link.
    return Holder(
        email if isinstance(email, str) and EMAIL.fullmatch(email) else None,
        tuple(tag for tag in locales if isinstance(tag, str)),
    )


def list_webhook_endpoints(client: stripe.StripeClient) -> list[dict[str, Any]]:
    """Every webhook endpoint of the account (GET /v1/webhook_endpoints, all pages)."""
    page = client.v1.webhook_endpoints.list(params={"limit": 100})
    return [endpoint.to_dict() for endpoint in page.auto_paging_iter()]
