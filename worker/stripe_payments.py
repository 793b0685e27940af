"""The Stripe calls of switching a customer to a new PaymentMethod (worker/payments), on a
client from shared.stripe_client (make_stripe_client), so client construction stays in one
place. Every write takes the caller's Idempotency-Key."""

from __future__ import annotations

from typing import Any, cast

import stripe


def list_bank_payment_methods(
    client: stripe.StripeClient, customer_id: str
) -> list[dict[str, Any]]:
    """Every `us_bank_account` PaymentMethod attached to the customer (all pages)."""
    page = client.v1.payment_methods.list(
        params={"customer": customer_id, "type": "us_bank_account", "limit": 100}
    )
    return [payment_method.to_dict() for payment_method in page.auto_paging_iter()]


def list_subscriptions(client: stripe.StripeClient, customer_id: str) -> list[dict[str, Any]]:
    """The customer's subscriptions in every status but canceled (Stripe's default), all
    pages."""
    page = client.v1.subscriptions.list(params={"customer": customer_id, "limit": 100})
    return [subscription.to_dict() for subscription in page.auto_paging_iter()]


def customer_default_payment_method(client: stripe.StripeClient, customer_id: str) -> str | None:
    """The Customer's `invoice_settings.default_payment_method` (what a subscription without
    its own default bills)."""
    customer = client.v1.customers.retrieve(customer_id).to_dict()
    invoice_settings: dict[str, Any] = customer.get("invoice_settings") or {}
    default = invoice_settings.get("default_payment_method")
    if isinstance(default, dict):  # expanded: a JSON object
        return cast(dict[str, Any], default).get("id")
    return default


def set_default_payment_method(
    client: stripe.StripeClient, customer_id: str, payment_method_id: str, *, idempotency_key: str
) -> None:
    """The Customer's `invoice_settings.default_payment_method`."""
    client.v1.customers.update(
        customer_id,
        params={"invoice_settings": {"default_payment_method": payment_method_id}},
        options={"idempotency_key": idempotency_key},
    )


def set_subscription_payment_method(
    client: stripe.StripeClient,
    subscription_id: str,
    payment_method_id: str,
    *,
    idempotency_key: str,
) -> None:
    client.v1.subscriptions.update(
        subscription_id,
        params={"default_payment_method": payment_method_id},
        options={"idempotency_key": idempotency_key},
    )


def clear_subscription_payment_method(
    client: stripe.StripeClient, subscription_id: str, *, idempotency_key: str
) -> None:
    """Unset the Subscription's `default_payment_method`: it then bills the Customer's
    invoice default."""
    client.v1.subscriptions.update(
        subscription_id,
        params={"default_payment_method": ""},
        options={"idempotency_key": idempotency_key},
    )


def detach_payment_method(
    client: stripe.StripeClient, payment_method_id: str, *, idempotency_key: str
) -> None:
    client.v1.payment_methods.detach(
        payment_method_id, options={"idempotency_key": idempotency_key}
    )


# recovering the invoices that failed on the broken account (worker/recovery)

INVOICE_ATTEMPTS = "payments.data.payment.payment_intent"
"""An invoice's attempts: from API version 2025-03-31 an Invoice names its PaymentIntents
only in `payments`, an includable list; expanded to the PaymentIntent, its
`last_payment_error.payment_method` is the PaymentMethod the attempt failed on."""


def list_open_invoices(client: stripe.StripeClient, customer_id: str) -> list[dict[str, Any]]:
    """The customer's open invoices (all pages), without their attempts."""
    page = client.v1.invoices.list(params={"customer": customer_id, "status": "open", "limit": 100})
    return [invoice.to_dict() for invoice in page.auto_paging_iter()]


def retrieve_invoice(client: stripe.StripeClient, invoice_id: str) -> dict[str, Any]:
    """The invoice as it is now, with its attempts' PaymentIntents."""
    return client.v1.invoices.retrieve(invoice_id, params={"expand": [INVOICE_ATTEMPTS]}).to_dict()


def pay_invoice(
    client: stripe.StripeClient, invoice_id: str, payment_method_id: str, *, idempotency_key: str
) -> dict[str, Any]:
    """Attempt the invoice's payment now on `payment_method_id` (an ACH debit stays
    `processing` and the invoice `open` until it settles)."""
    return client.v1.invoices.pay(
        invoice_id,
        params={"payment_method": payment_method_id},
        options={"idempotency_key": idempotency_key},
    ).to_dict()
