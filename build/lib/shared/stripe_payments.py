"""The Stripe calls of switching a customer to a new PaymentMethod (worker/payments), on a
client from shared.stripe_client (make_stripe_client), so client construction stays in one
place. Every write takes the caller's Idempotency-Key."""

from __future__ import annotations

from typing import Any

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
