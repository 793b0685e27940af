"""The one place that builds a StripeClient and makes the calls that need a preview version."""

from __future__ import annotations

from typing import Any

import stripe

from shared.settings import Settings, get_settings


class StripeNotConfigured(Exception):
    """STRIPE_API_KEY is not set, so relink cannot call Stripe."""


def make_stripe_client(settings: Settings | None = None) -> stripe.StripeClient:
    settings = settings or get_settings()
    if settings.stripe_api_key is None:
        raise StripeNotConfigured("STRIPE_API_KEY is not set")
    return stripe.StripeClient(
        settings.stripe_api_key.get_secret_value(),
        base_addresses={"api": settings.stripe_api_base},
        max_network_retries=2,
    )


def preview_options(settings: Settings | None = None) -> dict[str, Any]:
    """Request options for calls whose answer must carry preview fields."""
    return {"stripe_version": (settings or get_settings()).stripe_api_version}


def retrieve_account(client: stripe.StripeClient, account_id: str) -> dict[str, Any]:
    """The account at STRIPE_API_VERSION (with `authorization`, `status_details.inactive`)."""
    account = client.v1.financial_connections.accounts.retrieve(
        account_id, options=preview_options()
    )
    return account.to_dict()
