"""A small client for the `/_sim` control plane, for tests, the demo and benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests


class SimControlError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"simulator answered {status}: {body}")
        self.status = status
        self.body = body


class SimClient:
    def __init__(
        self, base_url: str, timeout: float = 10.0, *, stripe_account: str | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        self.stripe_account = stripe_account

    def on_account(self, stripe_account: str) -> SimClient:
        """A client whose world calls act on a connected account's objects (as the API does
        with `Stripe-Account`); close it when done."""
        return SimClient(self.base_url, self.timeout, stripe_account=stripe_account)

    def close(self) -> None:
        self.http.close()

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        if self.stripe_account:
            params = {**(params or {}), "stripe_account": self.stripe_account}
        response = self.http.request(
            method, self.base_url + path, json=body, params=params, timeout=self.timeout
        )
        payload = response.json()
        if response.status_code >= 400:
            raise SimControlError(response.status_code, payload)
        return payload

    # world

    def reset(self) -> None:
        self._call("POST", "/_sim/reset")

    def create_customer(
        self, email: str | None = None, preferred_locales: list[str] | None = None
    ) -> dict[str, Any]:
        body = {"email": email, "preferred_locales": preferred_locales or []}
        return dict(self._call("POST", "/_sim/customers", body))

    def create_connected_account(self, email: str | None = None) -> dict[str, Any]:
        return dict(self._call("POST", "/_sim/connected_accounts", {"email": email}))

    def create_authorization(
        self,
        holder: dict[str, str],
        institution: str = "StripeBank",
        accounts: list[dict[str, Any]] | None = None,
        n_accounts: int = 1,
        permissions: list[str] | None = None,
        id: str | None = None,
    ) -> dict[str, Any]:
        """The authorization (preview shape) plus `accounts` (ids) and `account_objects`;
        `id` (and an account spec's `id`) chooses the id instead of a fresh one."""
        body: dict[str, Any] = {"holder": holder, "institution": institution}
        if id is not None:
            body["id"] = id
        if accounts is not None:
            body["accounts"] = accounts
        else:
            body["n_accounts"] = n_accounts
        if permissions is not None:
            body["permissions"] = permissions
        return dict(self._call("POST", "/_sim/authorizations", body))

    def create_payment_method(
        self, fca: str, customer: str | None = None, billing_name: str | None = "Ada"
    ) -> dict[str, Any]:
        """A us_bank_account PaymentMethod on `fca`, attached to `customer` when given."""
        body = {
            "financial_connections_account": fca,
            "customer": customer,
            "billing_name": billing_name,
        }
        return dict(self._call("POST", "/_sim/payment_methods", body))

    def create_subscription(
        self,
        customer: str,
        default_payment_method: str | None,
        status: str = "active",
        items: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """`items`: `[{unit_amount, currency, interval, interval_count, quantity}]`."""
        body = {
            "customer": customer,
            "default_payment_method": default_payment_method,
            "status": status,
            "items": items or [],
        }
        return dict(self._call("POST", "/_sim/subscriptions", body))

    def create_invoice(
        self,
        customer: str,
        amount_due: int,
        *,
        failed_on: str | None = None,
        age_days: float = 0,
        ach_outcome: str = "succeeded",
        currency: str = "usd",
    ) -> dict[str, Any]:
        """An open invoice; `failed_on`: its first attempt failed on that PaymentMethod."""
        body = {
            "customer": customer,
            "amount_due": amount_due,
            "failed_on": failed_on,
            "age_days": age_days,
            "ach_outcome": ach_outcome,
            "currency": currency,
        }
        return dict(self._call("POST", "/_sim/invoices", body))

    def invoice(self, invoice: str) -> dict[str, Any]:
        """The invoice with its payments and their PaymentIntents expanded."""
        return dict(self._call("GET", f"/_sim/invoices/{invoice}"))

    def settle_invoice(self, invoice: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/_sim/invoices/{invoice}/settle", {}))

    def close_invoice(self, invoice: str, status: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/_sim/invoices/{invoice}/close", {"status": status}))

    def customer(self, customer: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/_sim/customers/{customer}"))

    def subscription(self, subscription: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/_sim/subscriptions/{subscription}"))

    def payment_method(self, payment_method: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/_sim/payment_methods/{payment_method}"))

    def deactivate_account(
        self, fca: str, cause: str = "access_expired", action: str = "relink_required"
    ) -> dict[str, Any]:
        body = {"cause": cause, "action": action}
        return dict(self._call("POST", f"/_sim/accounts/{fca}/deactivate", body))

    def deactivate_authorization(
        self, fcauth: str, cause: str = "access_expired", action: str = "relink_required"
    ) -> dict[str, Any]:
        body = {"cause": cause, "action": action}
        return dict(self._call("POST", f"/_sim/authorizations/{fcauth}/deactivate", body))

    def disconnect_account(self, fca: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/_sim/accounts/{fca}/disconnect"))

    def mark_upcoming_deactivation(
        self,
        fca: str,
        cause: str = "institution_requirement",
        action: str = "relink_required",
        expected_deactivation_date: int | None = None,
        events: list[str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "cause": cause,
            "action": action,
            "expected_deactivation_date": expected_deactivation_date
            or int(time.time()) + 30 * 86400,
        }
        if events is not None:
            body["events"] = events
        return dict(self._call("POST", f"/_sim/accounts/{fca}/upcoming_deactivation", body))

    def mark_account_number_expiry(
        self, fca: str, expected_expiry_date: int | None = None
    ) -> dict[str, Any]:
        """The account's tokenized number expires then (default in 20 days)."""
        when = expected_expiry_date or int(time.time()) + 20 * 86400
        body = {"expected_expiry_date": when}
        return dict(self._call("POST", f"/_sim/accounts/{fca}/account_number_expiry", body))

    def set_account_number_status(self, fca: str, status: str) -> dict[str, Any]:
        """`pending`, `transactable`, `deactivated` (blocks its PaymentMethods) or `expired`."""
        body = {"status": status}
        return dict(self._call("POST", f"/_sim/accounts/{fca}/account_number_status", body))

    def mark_authorization_upcoming_deactivation(
        self,
        fcauth: str,
        action: str = "relink_required",
        expected_deactivation_date: int | None = None,
        cause: str = "institution_requirement",
    ) -> dict[str, Any]:
        body = {
            "action": action,
            "cause": cause,
            "expected_deactivation_date": expected_deactivation_date
            or int(time.time()) + 30 * 86400,
        }
        path = f"/_sim/authorizations/{fcauth}/upcoming_deactivation"
        return dict(self._call("POST", path, body))

    def complete_session(
        self,
        fcsess: str,
        outcome: str = "success",
        accounts: list[str] | None = None,
        new_accounts: list[dict[str, Any]] | None = None,
        institution: str = "StripeBank",
    ) -> dict[str, Any]:
        """Outcomes: success, new_account, no_account, no_authorization, other, cancelled.
        Returns the session rendered at the preview version."""
        body: dict[str, Any] = {"outcome": outcome, "institution": institution}
        if accounts is not None:
            body["accounts"] = accounts
        if new_accounts is not None:
            body["new_accounts"] = new_accounts
        return dict(self._call("POST", f"/_sim/sessions/{fcsess}/complete", body))

    def set_session_scenario(self, fcsess: str, outcome: str = "success", **extra: Any) -> None:
        """What the fake Stripe.js does for this session (`error` resolves `{error}`)."""
        self._call("POST", f"/_sim/sessions/{fcsess}/scenario", {"outcome": outcome, **extra})

    def session(self, fcsess: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/_sim/sessions/{fcsess}"))

    # webhooks

    def configure_webhooks(
        self,
        url: str,
        secret: str | None = None,
        api_version: str = "2026-09-30.preview",
        *,
        connect: bool = False,
        event_payload: str = "snapshot",
        **delivery: Any,
    ) -> dict[str, Any]:
        """Point deliveries at `url` (with `connect`, those of connected accounts' events;
        `event_payload="thin"`: thin events); extra keywords go to `configure_delivery`."""
        body: dict[str, Any] = {
            "url": url,
            "secret": secret,
            "api_version": api_version,
            "event_payload": event_payload,
        }
        if connect:
            body["connect"] = True
        if delivery:
            body["delivery"] = delivery
        return dict(self._call("POST", "/_sim/webhooks", body))

    def remove_webhooks(self) -> None:
        self._call("DELETE", "/_sim/webhooks")

    def configure_delivery(self, **settings: Any) -> dict[str, Any]:
        """Keys: duplicates (int or bool), shuffle, delay_s, paused, retry (list of delays
        in seconds; attempts = 1 + len), timeout_s, seed, concurrency (deliveries in
        flight at once)."""
        return dict(self._call("POST", "/_sim/delivery", settings))

    def pause(self) -> None:
        self._call("POST", "/_sim/delivery/pause")

    def resume(self) -> None:
        self._call("POST", "/_sim/delivery/resume")

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_sim/deliveries")["data"])

    def queued_deliveries(self) -> int:
        return int(self._call("GET", "/_sim/deliveries")["queued"])

    def wait_for_deliveries(
        self,
        count: int,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 10.0,
    ) -> list[dict[str, Any]]:
        """Wait until at least `count` delivery attempts (matching `predicate`) are logged."""
        deadline = time.monotonic() + timeout
        while True:
            found = [d for d in self.deliveries() if predicate is None or predicate(d)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} deliveries after {timeout}s")
            time.sleep(0.02)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no delivery is queued (nothing due or retrying)."""
        deadline = time.monotonic() + timeout
        while self.queued_deliveries():
            if time.monotonic() > deadline:
                raise TimeoutError("deliveries still queued")
            time.sleep(0.02)

    # traffic

    def set_faults(
        self,
        error_rate: float = 0.0,
        slow_s: float = 0.0,
        drop_rate: float = 0.0,
        path_prefix: str = "/v1/",
    ) -> dict[str, Any]:
        body = {
            "error_rate": error_rate,
            "slow_s": slow_s,
            "drop_rate": drop_rate,
            "path_prefix": path_prefix,
        }
        return dict(self._call("POST", "/_sim/faults", body))

    def set_behaviours(self, **behaviours: bool) -> dict[str, bool]:
        """`detach_clears_defaults`, `new_account_reactivates_old` (both true until reset)."""
        return dict(self._call("POST", "/_sim/behaviours", behaviours))

    def set_rate_limit(self, per_second: float) -> None:
        """Requests per second over all `/v1` calls; 0 turns the limiter off."""
        self._call("POST", "/_sim/rate_limit", {"per_second": per_second})

    # inspection

    def requests(self, path_prefix: str | None = None) -> list[dict[str, Any]]:
        params = {"path_prefix": path_prefix} if path_prefix else None
        return list(self._call("GET", "/_sim/requests", params=params)["data"])

    def clear_requests(self) -> None:
        self._call("DELETE", "/_sim/requests")

    def request_counts(self) -> dict[str, int]:
        return dict(self._call("GET", "/_sim/request_counts"))

    def events(self) -> list[dict[str, Any]]:
        """Every event, oldest first."""
        return list(self._call("GET", "/_sim/events")["data"])
