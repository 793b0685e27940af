"""The control plane under `/_sim/...`: JSON in, JSON out, no API key.

Tests and the demo use it to build the world, move it through deactivation and relink,
configure webhook delivery, traffic faults, and read back what relink sent.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sim import account_numbers, billing, invoices, objects, resources, scenarios
from sim.delivery import Deliverer
from sim.errors import StripeError, invalid
from sim.ids import new_id, now
from sim.signing import new_secret
from sim.state import (
    FC_EVENT_TYPES,
    Behaviours,
    DeliveryConfig,
    Faults,
    SimState,
    WebhookEndpoint,
)
from sim.traffic import RateLimiter
from sim.versions import PREVIEW_DEFAULT

Body = dict[str, Any]


class Control:
    def __init__(self, state: SimState, deliverer: Deliverer, limiter: RateLimiter) -> None:
        self.state = state
        self.deliverer = deliverer
        self.limiter = limiter

    # world

    def reset(self, body: Body) -> Body:
        with self.state.lock:
            self.state.reset()
        self.deliverer.clear()
        self.limiter.clear()
        return {"ok": True}

    def create_customer(self, body: Body) -> Body:
        with self.state.lock:
            locales = body.get("preferred_locales") or []
            if not isinstance(locales, list) or not all(isinstance(t, str) for t in locales):
                raise invalid("preferred_locales must be a list of strings", "preferred_locales")
            record = scenarios.create_customer(self.state, body.get("email"), locales)
            return objects.customer(record)

    def create_connected_account(self, body: Body) -> Body:
        with self.state.lock:
            record = scenarios.create_connected_account(self.state, body.get("email"))
            return objects.connected_account(record)

    def create_authorization(self, body: Body) -> Body:
        specs = body.get("accounts")
        if specs is None:
            count = int(body.get("n_accounts", 1))
            specs = [{"subcategory": "checking"} for _ in range(count)]
        permissions = body.get("permissions")
        if permissions:
            specs = [{"permissions": permissions, **spec} for spec in specs]
        with self.state.lock:
            auth, accounts = scenarios.create_authorization(
                self.state,
                body.get("holder") or {},
                str(body.get("institution", "StripeBank")),
                specs,
                authorization_id=body.get("id"),
            )
            version = str(body.get("api_version", PREVIEW_DEFAULT))
            return {
                **objects.authorization(auth, PREVIEW_DEFAULT),
                "accounts": [a.id for a in accounts],
                "account_objects": [objects.account(a, version) for a in accounts],
            }

    def _account(self, account_id: str) -> Body:
        return objects.account(self.state.accounts[account_id], PREVIEW_DEFAULT)

    def deactivate_account(self, body: Body, account_id: str) -> Body:
        with self.state.lock:
            scenarios.deactivate_account(
                self.state, account_id, _req(body, "cause"), body.get("action", "relink_required")
            )
            return self._account(account_id)

    def disconnect_account(self, body: Body, account_id: str) -> Body:
        with self.state.lock:
            scenarios.disconnect_account(self.state, account_id)
            return self._account(account_id)

    def upcoming_deactivation(self, body: Body, account_id: str) -> Body:
        with self.state.lock:
            scenarios.mark_upcoming_deactivation(
                self.state,
                account_id,
                _req(body, "cause"),
                body.get("action", "relink_required"),
                int(_req(body, "expected_deactivation_date")),
                body.get("events"),
            )
            return self._account(account_id)

    def account_number_expiry(self, body: Body, account_id: str) -> Body:
        with self.state.lock:
            expiry = int(_req(body, "expected_expiry_date"))
            account_numbers.mark_upcoming_expiry(self.state, account_id, expiry)
            return self._account(account_id)

    def account_number_status(self, body: Body, account_id: str) -> Body:
        with self.state.lock:
            account_numbers.set_number_status(self.state, account_id, _req(body, "status"))
            return self._account(account_id)

    def _authorization(self, auth_id: str) -> Body:
        auth = self.state.authorizations[auth_id]
        return {
            **objects.authorization(auth, PREVIEW_DEFAULT),
            "accounts": [a.id for a in scenarios.accounts_of(self.state, auth_id)],
        }

    def deactivate_authorization(self, body: Body, auth_id: str) -> Body:
        with self.state.lock:
            scenarios.deactivate_authorization(
                self.state, auth_id, _req(body, "cause"), body.get("action", "relink_required")
            )
            return self._authorization(auth_id)

    def authorization_upcoming_deactivation(self, body: Body, auth_id: str) -> Body:
        with self.state.lock:
            scenarios.mark_authorization_upcoming_deactivation(
                self.state,
                auth_id,
                body.get("action", "relink_required"),
                int(_req(body, "expected_deactivation_date")),
                body.get("cause", "institution_requirement"),
                body.get("events"),
            )
            return self._authorization(auth_id)

    def create_payment_method(self, body: Body) -> Body:
        """A us_bank_account PaymentMethod on an FC account, attached to `customer` if given."""
        with self.state.lock:
            fca = _req(body, "financial_connections_account")
            scenarios.get_account(self.state, fca)
            record = billing.create_payment_method(
                self.state, fca, body.get("billing_name"), body.get("customer")
            )
            return billing.payment_method(self.state, record)

    def create_subscription(self, body: Body) -> Body:
        """`items`: `[{unit_amount, currency, interval, interval_count, quantity}]`, each a
        recurring price of its own."""
        with self.state.lock:
            record = billing.create_subscription(
                self.state,
                _req(body, "customer"),
                body.get("status", "active"),
                body.get("default_payment_method"),
                body.get("items"),
            )
            return billing.subscription(record)

    def create_invoice(self, body: Body) -> Body:
        """An open invoice of `customer` for `amount_due`, `age_days` old; `failed_on` a
        PaymentMethod its first attempt failed on; `ach_outcome` what its next ACH debit
        ends as (`succeeded`, `failed`)."""
        with self.state.lock:
            created = now() - int(float(body.get("age_days") or 0) * 86400)
            record = invoices.create_invoice(
                self.state,
                _req(body, "customer"),
                int(_req(body, "amount_due")),
                currency=body.get("currency") or "usd",
                created=created,
                subscription=body.get("subscription"),
                failed_on=body.get("failed_on"),
                ach_outcome=body.get("ach_outcome") or "succeeded",
            )
            return invoices.invoice(self.state, record, [invoices.EXPAND_PAYMENT_INTENTS])

    def get_invoice(self, body: Body, invoice_id: str) -> Body:
        with self.state.lock:
            return invoices.retrieve_invoice(
                self.state, {"expand": [invoices.EXPAND_PAYMENT_INTENTS]}, invoice_id
            )

    def settle_invoice(self, body: Body, invoice_id: str) -> Body:
        """End the invoice's processing ACH debit (its `ach_outcome`), emitting its event."""
        with self.state.lock:
            record = invoices.settle(self.state, invoice_id)
            return invoices.invoice(self.state, record, [invoices.EXPAND_PAYMENT_INTENTS])

    def close_invoice(self, body: Body, invoice_id: str) -> Body:
        """`status`: void or uncollectible."""
        with self.state.lock:
            record = invoices.close(self.state, invoice_id, _req(body, "status"))
            return invoices.invoice(self.state, record)

    def get_customer(self, body: Body, customer_id: str) -> Body:
        with self.state.lock:
            return resources.retrieve_customer(self.state, customer_id)

    def get_subscription(self, body: Body, subscription_id: str) -> Body:
        with self.state.lock:
            record = self.state.subscriptions.get(subscription_id)
            if record is None:
                raise StripeError(404, f"No such subscription: '{subscription_id}'")
            return billing.subscription(record)

    def get_payment_method(self, body: Body, pm_id: str) -> Body:
        with self.state.lock:
            record = self.state.payment_methods.get(pm_id)
            if record is None:
                raise StripeError(404, f"No such PaymentMethod: '{pm_id}'")
            return billing.payment_method(self.state, record)

    def complete_session(self, body: Body, session_id: str) -> Body:
        with self.state.lock:
            record = scenarios.complete_session(
                self.state,
                session_id,
                body.get("outcome", "success"),
                body.get("accounts"),
                body.get("new_accounts"),
                body.get("institution", "StripeBank"),
            )
            return resources.render_session(self.state, record, PREVIEW_DEFAULT)

    def set_session_scenario(self, body: Body, session_id: str) -> Body:
        with self.state.lock:
            record = scenarios.get_session(self.state, session_id)
            outcome = body.get("outcome", "success")
            if outcome not in (*scenarios.OUTCOMES, "error"):
                raise invalid(f"Unknown outcome {outcome}", "outcome")
            record.scenario = dict(body)
            return {"id": record.id, "scenario": record.scenario}

    # webhooks and delivery

    def configure_webhooks(self, body: Body) -> Body:
        """The account's endpoint, or with `connect: true` the Connect endpoint (events of
        connected accounts, signed with its own secret). `event_payload`: `snapshot` (the
        default) or `thin`, as an event destination's."""
        event_payload = body.get("event_payload") or "snapshot"
        if event_payload not in ("snapshot", "thin"):
            raise invalid(f"Invalid event_payload: {event_payload}", "event_payload")
        with self.state.lock:
            endpoint = WebhookEndpoint(
                url=_req(body, "url"),
                secret=body.get("secret") or new_secret(),
                api_version=body.get("api_version") or PREVIEW_DEFAULT,
                id=new_id("we"),
                enabled_events=list(body.get("enabled_events") or FC_EVENT_TYPES),
                created=now(),
                connect=bool(body.get("connect")),
                event_payload=event_payload,
            )
            if endpoint.connect:
                self.state.connect_webhook = endpoint
                return {
                    "url": endpoint.url,
                    "secret": endpoint.secret,
                    "connect": True,
                    "event_payload": endpoint.event_payload,
                }
            self.state.webhook = endpoint
            delivery = body.get("delivery")
            if delivery:
                self._apply_delivery(delivery)
            return self._webhook_json()

    def _webhook_json(self) -> Body:
        hook = self.state.webhook
        return {
            "url": hook.url if hook else None,
            "secret": hook.secret if hook else None,
            "api_version": hook.api_version if hook else None,
            "event_payload": hook.event_payload if hook else None,
            "delivery": vars(self.state.delivery),
        }

    def get_webhooks(self, body: Body) -> Body:
        with self.state.lock:
            return self._webhook_json()

    def remove_webhooks(self, body: Body) -> Body:
        with self.state.lock:
            self.state.webhook = None
            return self._webhook_json()

    def _apply_delivery(self, body: Body) -> None:
        config = self.state.delivery
        known = set(vars(DeliveryConfig()))
        for key, value in body.items():
            if key == "retry":
                key = "retry_delays_s"
            if key not in known:
                raise invalid(f"Unknown delivery setting {key}", key)
            if key == "duplicates" and isinstance(value, bool):
                value = 1 if value else 0
            setattr(config, key, value)

    def configure_delivery(self, body: Body) -> Body:
        with self.state.lock:
            self._apply_delivery(body)
        self.deliverer.wake()
        with self.state.lock:
            return self._webhook_json()

    def pause(self, body: Body) -> Body:
        return self.configure_delivery({"paused": True})

    def resume(self, body: Body) -> Body:
        return self.configure_delivery({"paused": False})

    def deliveries(self, body: Body) -> Body:
        with self.state.lock:
            return {
                "data": list(self.state.deliveries),
                "queued": self.deliverer.pending(),
            }

    # traffic

    def set_faults(self, body: Body) -> Body:
        with self.state.lock:
            known = set(vars(Faults()))
            for key in body:
                if key not in known:
                    raise invalid(f"Unknown fault setting {key}", key)
            self.state.faults = Faults(**{**vars(self.state.faults), **body})
            return vars(self.state.faults)

    def set_behaviours(self, body: Body) -> Body:
        """Choose how the simulator fills in what Stripe does not document."""
        with self.state.lock:
            known = set(vars(Behaviours()))
            for key, value in body.items():
                if key not in known:
                    raise invalid(f"Unknown behaviour {key}", key)
                if not isinstance(value, bool):
                    raise invalid(f"{key} must be true or false", key)
            self.state.behaviours = Behaviours(**{**vars(self.state.behaviours), **body})
            return vars(self.state.behaviours)

    def set_rate_limit(self, body: Body) -> Body:
        with self.state.lock:
            self.state.rate_limit_per_second = float(_req(body, "per_second"))
        self.limiter.clear()
        return {"per_second": self.state.rate_limit_per_second}

    # inspection

    def list_requests(self, body: Body, prefix: str | None = None) -> Body:
        with self.state.lock:
            data = [
                r.to_json()
                for r in self.state.requests
                if prefix is None or r.path.startswith(prefix)
            ]
        return {"data": data}

    def clear_requests(self, body: Body) -> Body:
        with self.state.lock:
            self.state.requests.clear()
            self.state.request_counts.clear()
        return {"ok": True}

    def request_counts(self, body: Body) -> Body:
        with self.state.lock:
            return dict(self.state.request_counts)

    def list_events(self, body: Body) -> Body:
        """Every event, oldest first (the REST list is newest first and paginated)."""
        with self.state.lock:
            return {"data": [objects.event(e) for e in self.state.events.values()]}

    def get_session(self, body: Body, session_id: str) -> Body:
        with self.state.lock:
            record = scenarios.get_session(self.state, session_id)
            return resources.render_session(self.state, record, PREVIEW_DEFAULT)


def _req(body: Body, key: str) -> Any:
    if body.get(key) in (None, ""):
        raise StripeError(400, f"Missing required field: {key}", param=key)
    return body[key]


def _endpoint(
    state: SimState, verb: Callable[..., Body], path_param: str | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """A control verb acting on the platform's objects, or on those of the connected account
    named by `stripe_account` (in the JSON body or the query)."""

    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            return JSONResponse(StripeError(400, "Body must be JSON").envelope(), 400)
        if not isinstance(body, dict):
            return JSONResponse(StripeError(400, "Body must be a JSON object").envelope(), 400)
        stripe_account = body.pop("stripe_account", None) or request.query_params.get(
            "stripe_account"
        )
        try:
            with state.acting_as(stripe_account):
                if path_param is not None:
                    return JSONResponse(verb(body, request.path_params[path_param]))
                if request.method == "GET" and "path_prefix" in request.query_params:
                    return JSONResponse(verb(body, request.query_params["path_prefix"]))
                return JSONResponse(verb(body))
        except StripeError as exc:
            return JSONResponse(exc.envelope(), exc.status)
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse(StripeError(400, f"Bad control request: {exc}").envelope(), 400)

    return endpoint


def routes(control: Control) -> list[Route]:
    c = control
    return [
        Route("/_sim/reset", _endpoint(c.state, c.reset), methods=["POST"]),
        Route("/_sim/customers", _endpoint(c.state, c.create_customer), methods=["POST"]),
        Route(
            "/_sim/connected_accounts",
            _endpoint(c.state, c.create_connected_account),
            methods=["POST"],
        ),
        Route("/_sim/authorizations", _endpoint(c.state, c.create_authorization), methods=["POST"]),
        Route(
            "/_sim/authorizations/{id}/deactivate",
            _endpoint(c.state, c.deactivate_authorization, "id"),
            methods=["POST"],
        ),
        Route(
            "/_sim/authorizations/{id}/upcoming_deactivation",
            _endpoint(c.state, c.authorization_upcoming_deactivation, "id"),
            methods=["POST"],
        ),
        Route(
            "/_sim/accounts/{id}/deactivate",
            _endpoint(c.state, c.deactivate_account, "id"),
            methods=["POST"],
        ),
        Route(
            "/_sim/accounts/{id}/disconnect",
            _endpoint(c.state, c.disconnect_account, "id"),
            methods=["POST"],
        ),
        Route(
            "/_sim/accounts/{id}/upcoming_deactivation",
            _endpoint(c.state, c.upcoming_deactivation, "id"),
            methods=["POST"],
        ),
        Route(
            "/_sim/accounts/{id}/account_number_expiry",
            _endpoint(c.state, c.account_number_expiry, "id"),
            methods=["POST"],
        ),
        Route(
            "/_sim/accounts/{id}/account_number_status",
            _endpoint(c.state, c.account_number_status, "id"),
            methods=["POST"],
        ),
        Route("/_sim/customers/{id}", _endpoint(c.state, c.get_customer, "id"), methods=["GET"]),
        Route(
            "/_sim/payment_methods", _endpoint(c.state, c.create_payment_method), methods=["POST"]
        ),
        Route(
            "/_sim/payment_methods/{id}",
            _endpoint(c.state, c.get_payment_method, "id"),
            methods=["GET"],
        ),
        Route("/_sim/subscriptions", _endpoint(c.state, c.create_subscription), methods=["POST"]),
        Route(
            "/_sim/subscriptions/{id}",
            _endpoint(c.state, c.get_subscription, "id"),
            methods=["GET"],
        ),
        Route("/_sim/invoices", _endpoint(c.state, c.create_invoice), methods=["POST"]),
        Route("/_sim/invoices/{id}", _endpoint(c.state, c.get_invoice, "id"), methods=["GET"]),
        Route(
            "/_sim/invoices/{id}/settle",
            _endpoint(c.state, c.settle_invoice, "id"),
            methods=["POST"],
        ),
        Route(
            "/_sim/invoices/{id}/close", _endpoint(c.state, c.close_invoice, "id"), methods=["POST"]
        ),
        Route("/_sim/sessions/{id}", _endpoint(c.state, c.get_session, "id"), methods=["GET"]),
        Route(
            "/_sim/sessions/{id}/complete",
            _endpoint(c.state, c.complete_session, "id"),
            methods=["POST"],
        ),
        Route(
            "/_sim/sessions/{id}/scenario",
            _endpoint(c.state, c.set_session_scenario, "id"),
            methods=["POST"],
        ),
        Route("/_sim/webhooks", _endpoint(c.state, c.configure_webhooks), methods=["POST"]),
        Route("/_sim/webhooks", _endpoint(c.state, c.get_webhooks), methods=["GET"]),
        Route("/_sim/webhooks", _endpoint(c.state, c.remove_webhooks), methods=["DELETE"]),
        Route("/_sim/delivery", _endpoint(c.state, c.configure_delivery), methods=["POST"]),
        Route("/_sim/delivery/pause", _endpoint(c.state, c.pause), methods=["POST"]),
        Route("/_sim/delivery/resume", _endpoint(c.state, c.resume), methods=["POST"]),
        Route("/_sim/deliveries", _endpoint(c.state, c.deliveries), methods=["GET"]),
        Route("/_sim/faults", _endpoint(c.state, c.set_faults), methods=["POST"]),
        Route("/_sim/rate_limit", _endpoint(c.state, c.set_rate_limit), methods=["POST"]),
        Route("/_sim/behaviours", _endpoint(c.state, c.set_behaviours), methods=["POST"]),
        Route("/_sim/requests", _endpoint(c.state, c.list_requests), methods=["GET"]),
        Route("/_sim/requests", _endpoint(c.state, c.clear_requests), methods=["DELETE"]),
        Route("/_sim/request_counts", _endpoint(c.state, c.request_counts), methods=["GET"]),
        Route("/_sim/events", _endpoint(c.state, c.list_events), methods=["GET"]),
    ]
