"""The Stripe REST surface: one catch-all route that authenticates, rate-limits, injects
faults, logs, replays idempotent POSTs and dispatches to `sim.resources`."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sim import billing, resources
from sim.errors import StripeError, unrecognized_url
from sim.events import list_events
from sim.forms import FormError, decode
from sim.ids import new_id
from sim.state import LoggedRequest, SimState, StoredResponse
from sim.traffic import DroppedConnection, RateLimiter, pick_fault
from sim.versions import is_preview, parse

Params = dict[str, Any]
Handler = Callable[[SimState, Params, str, dict[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    preview_only: bool = False

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")


ROUTES: list[Route] = [
    Route(
        "GET",
        "/v1/financial_connections/accounts",
        lambda s, p, v, a: resources.list_accounts(s, p, v),
    ),
    Route(
        "GET",
        "/v1/financial_connections/accounts/{id}",
        lambda s, p, v, a: resources.retrieve_account(s, a["id"], v),
    ),
    Route(
        "GET",
        "/v1/financial_connections/authorizations/{id}",
        lambda s, p, v, a: resources.retrieve_authorization(s, a["id"], v),
        preview_only=True,
    ),
    Route(
        "POST",
        "/v1/financial_connections/sessions",
        lambda s, p, v, a: resources.create_session(s, p, v, a["base_url"]),
    ),
    Route(
        "GET",
        "/v1/financial_connections/sessions/{id}",
        lambda s, p, v, a: resources.retrieve_session(s, a["id"], v),
    ),
    Route("GET", "/v1/customers/{id}", lambda s, p, v, a: resources.retrieve_customer(s, a["id"])),
    Route("POST", "/v1/customers/{id}", lambda s, p, v, a: billing.update_customer(s, p, a["id"])),
    Route(
        "GET",
        "/v1/customers/{id}/payment_methods",
        lambda s, p, v, a: billing.list_payment_methods(s, p, a["id"]),
    ),
    Route("GET", "/v1/payment_methods", lambda s, p, v, a: billing.list_payment_methods(s, p)),
    Route(
        "POST",
        "/v1/payment_methods/{id}/detach",
        lambda s, p, v, a: billing.detach_payment_method(s, p, a["id"]),
    ),
    Route("GET", "/v1/subscriptions", lambda s, p, v, a: billing.list_subscriptions(s, p)),
    Route(
        "POST",
        "/v1/subscriptions/{id}",
        lambda s, p, v, a: billing.update_subscription(s, p, a["id"]),
    ),
    Route(
        "GET",
        "/v1/accounts/{id}",
        lambda s, p, v, a: resources.retrieve_connected_account(s, a["id"]),
    ),
    Route("POST", "/v1/setup_intents", lambda s, p, v, a: resources.create_setup_intent(s, p, v)),
    Route(
        "GET",
        "/v1/setup_intents/{id}",
        lambda s, p, v, a: resources.retrieve_setup_intent(s, a["id"]),
    ),
    Route(
        "GET", "/v1/webhook_endpoints", lambda s, p, v, a: resources.list_webhook_endpoints(s, p)
    ),
    Route("GET", "/v1/events", lambda s, p, v, a: list_events(s, p)),
    Route("GET", "/v1/events/{id}", lambda s, p, v, a: resources.retrieve_event(s, a["id"])),
    Route(
        "GET",
        "/v2/core/events/{id}",
        lambda s, p, v, a: resources.retrieve_thin_event(s, a["id"]),
    ),
]
_COMPILED = [(route, route.pattern) for route in ROUTES]


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], str]:
    """The route, its path parameters, and the template used for counters."""
    for route, pattern in _COMPILED:
        found = pattern.match(path)
        if found and route.method == method:
            return route, found.groupdict(), f"{method} {route.template}"
    return None, {}, f"{method} (unrecognized)"


def api_key_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.split(":", 1)[0]
    return None


def stripe_account_of(request: Request) -> str | None:
    """`Stripe-Account`, or a one-segment `Stripe-Context` (what stripe-python sends when it
    fetches a thin event or its related object for a connected account)."""
    return request.headers.get("stripe-account") or request.headers.get("stripe-context")


def check_api_key(key: str | None) -> None:
    if not key:
        raise StripeError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth "
            "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    if not key.startswith("sk_test_"):
        masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
        raise StripeError(401, f"Invalid API Key provided: {masked}")


def check_stripe_account(state: SimState, api_key: str | None, stripe_account: str | None) -> None:
    """`Stripe-Account` must name a connected account of the platform (Stripe's 403)."""
    if stripe_account is not None and stripe_account not in state.connected_accounts:
        raise StripeError(
            403,
            f"The provided key '{(api_key or '')[:12]}***' does not have access to account "
            f"'{stripe_account}' (or that account does not exist). Application access may "
            "have been revoked.",
            type="invalid_request_error",
            code="account_invalid",
        )


def rate_limited() -> StripeError:
    return StripeError(
        429,
        "Request rate limit exceeded. Learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
        code="rate_limit",
    )


def server_error() -> StripeError:
    return StripeError(500, "An unknown error occurred", type="api_error")


def _fingerprint(method: str, path: str, params: Params) -> str:
    raw = json.dumps([method, path, params], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


class StripeApi:
    """The ASGI endpoint behind `/v1/...`."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.limiter = RateLimiter()
        self.rng = random.Random()

    def _json(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> Response:
        return Response(
            json.dumps(body, indent=2).encode(),
            status_code=status,
            media_type="application/json",
            headers=headers,
        )

    async def __call__(self, request: Request) -> Response:
        request_id = new_id("req", 14)
        method, path = request.method, request.url.path
        route, path_params, counter = match(method, path)
        raw_body = (await request.body()).decode("utf-8", "replace")
        version_header = request.headers.get("stripe-version")
        stripe_account = stripe_account_of(request)
        idem_key = request.headers.get("idempotency-key") if method == "POST" else None
        headers = {"Request-Id": request_id}
        if idem_key:
            headers["Idempotency-Key"] = idem_key
        try:
            params = decode(request.url.query)
            if method == "POST":
                params.update(decode(raw_body))
        except FormError as exc:
            params = {}
            error: StripeError | None = StripeError(400, str(exc), param=exc.key)
        else:
            error = None
        entry = LoggedRequest(
            id=request_id,
            method=method,
            path=path,
            route=counter,
            params=params,
            stripe_version=version_header,
            idempotency_key=idem_key,
            status=0,
            at=time.time(),
            stripe_account=stripe_account,
        )
        with self.state.lock:
            self.state.requests.append(entry)
            self.state.request_counts[counter] = self.state.request_counts.get(counter, 0) + 1
            faults = self.state.faults
            per_second = self.state.rate_limit_per_second
        status, body, extra = await self._handle(
            request,
            route,
            path_params,
            params,
            version_header,
            idem_key,
            faults,
            per_second,
            error,
        )
        entry.status = status
        if body is None:
            return DroppedConnection()
        headers.update(extra)
        return self._json(status, body, headers)

    async def _handle(
        self,
        request: Request,
        route: Route | None,
        path_params: dict[str, str],
        params: Params,
        version_header: str | None,
        idem_key: str | None,
        faults: Any,
        per_second: float,
        error: StripeError | None,
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        method, path = request.method, request.url.path
        stripe_account = stripe_account_of(request)
        try:
            api_key = api_key_of(request)
            check_api_key(api_key)
            if not self.limiter.allow(per_second):
                raise rate_limited()
            fault = pick_fault(faults, path, self.rng)
            if faults.slow_s > 0 and path.startswith(faults.path_prefix):
                await asyncio.sleep(faults.slow_s)
            if fault == "drop":
                return 0, None, {}
            if fault == "error":
                raise server_error()
            if error is not None:
                raise error
            version = parse(version_header)
            extra = {"Stripe-Version": version}
            if route is None or (route.preview_only and not is_preview(version)):
                raise unrecognized_url(method, path)
            store_key = f"{api_key}:{stripe_account}:{idem_key}" if idem_key else None
            fingerprint = _fingerprint(method, path, params)
            with self.state.acting_as(stripe_account):
                check_stripe_account(self.state, api_key, stripe_account)
                if store_key and store_key in self.state.idempotency:
                    stored = self.state.idempotency[store_key]
                    if stored.fingerprint != fingerprint:
                        raise StripeError(
                            400,
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other "
                            f"than '{idem_key}' if you meant to execute a different request.",
                            type="idempotency_error",
                        )
                    extra["Idempotent-Replayed"] = "true"
                    return stored.status, json.loads(stored.body), extra
                base_url = str(request.base_url).rstrip("/")  # a hosted session's `url`
                body = route.handler(
                    self.state, params, version, {**path_params, "base_url": base_url}
                )
                if store_key:
                    self.state.idempotency[store_key] = StoredResponse(
                        fingerprint, 200, json.dumps(body).encode()
                    )
            return 200, body, extra
        except StripeError as exc:
            return exc.status, exc.envelope(), {}
