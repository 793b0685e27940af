"""Render records as Stripe JSON objects at a given API version."""

from __future__ import annotations

from typing import Any

from sim.state import (
    Account,
    Authorization,
    ConnectedAccount,
    Customer,
    Event,
    Session,
    SetupIntent,
    WebhookEndpoint,
)
from sim.versions import is_preview

ACCOUNTS_URL = "/v1/financial_connections/accounts"


def list_object(data: list[dict[str, Any]], url: str, has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def number_status(account: Account) -> str:
    """The tokenized account number's status: its own once set (sim/account_numbers.py);
    before, it follows the account (transactable while active)."""
    if account.account_number_status is not None:
        return account.account_number_status
    return "transactable" if account.status == "active" else "deactivated"


def account(record: Account, version: str) -> dict[str, Any]:
    preview = is_preview(version)
    status_details: dict[str, Any] = {}
    if record.status == "active" and record.expected_deactivation_date is not None:
        status_details["active"] = {
            "action": record.active_action,
            "cause": record.active_cause,
            "expected_deactivation_date": record.expected_deactivation_date,
        }
    if preview and record.status == "inactive":
        status_details["inactive"] = {
            "action": record.inactive_action,
            "cause": record.inactive_cause,
        }
    numbers = None
    if "payment_method" in record.permissions:
        numbers = [
            {
                "expected_expiry_date": record.account_number_expiry,
                "identifier_type": "tokenized_account_number",
                "status": number_status(record),
                "supported_networks": ["ach"],
            }
        ]
    body: dict[str, Any] = {
        "id": record.id,
        "object": "financial_connections.account",
        "account_holder": record.holder.render(),
        "account_numbers": numbers,
        "balance": None,
        "balance_refresh": None,
        "category": record.category,
        "created": record.created,
        "display_name": record.display_name,
        "institution_name": record.institution_name,
        "last4": record.last4,
        "livemode": False,
        "ownership": None,
        "ownership_refresh": None,
        "permissions": list(record.permissions),
        "status": record.status,
        "status_details": status_details,
        "subcategory": record.subcategory,
        "subscriptions": [],
        "supported_payment_method_types": ["us_bank_account"],
        "transaction_refresh": None,
    }
    if preview:
        body["authorization"] = record.authorization
        body["institution"] = record.institution
        body["inferred_balances_refresh"] = None
    return body


def authorization(record: Authorization, version: str) -> dict[str, Any]:
    preview = is_preview(version)
    status = record.status
    if not preview and status == "disconnected":
        status = "inactive"  # GA's enum has no `disconnected`
    status_details: dict[str, Any] = {}
    if record.status == "active" and record.expected_deactivation_date is not None:
        status_details["active"] = {
            "action": record.active_action,
            "expected_deactivation_date": record.expected_deactivation_date,
        }
    if record.status == "inactive":
        status_details["inactive"] = {"action": record.inactive_action}
    body: dict[str, Any] = {
        "id": record.id,
        "object": "financial_connections.authorization",
        "institution_name": record.institution_name,
        "livemode": False,
        "status": status,
        "status_details": status_details,
    }
    if preview:
        body["account_holder"] = record.holder.render()
        body["institution"] = record.institution
    return body


def session(record: Session, accounts: list[Account], version: str) -> dict[str, Any]:
    """Optional fields the spec never makes nullable (`limits`, `return_url`, `filters`,
    `relink_options`, `relink_result`, `status_details`) are left out when unset, as Stripe
    does; `filters` always carries its required `account_subcategories` and `country`."""
    body: dict[str, Any] = {
        "id": record.id,
        "object": "financial_connections.session",
        "account_holder": record.holder.render() if record.holder else None,
        "accounts": list_object(
            [account(item, version) for item in accounts], ACCOUNTS_URL, has_more=False
        ),
        "client_secret": record.client_secret,
        "livemode": False,
        "manual_entry": {"mode": "disabled"},
        "permissions": list(record.permissions),
        "prefetch": [],
    }
    if record.account_subcategories is not None or record.country is not None:
        body["filters"] = {
            "account_subcategories": record.account_subcategories,
            "country": record.country,
        }
    if record.limit_accounts is not None:
        body["limits"] = {"accounts": record.limit_accounts}
    if record.return_url is not None:
        body["return_url"] = record.return_url
    if not is_preview(version):
        return body
    if record.relink_authorization:
        body["relink_options"] = {
            "authorization": record.relink_authorization,
            "account": record.relink_account,
        }
        if record.status != "pending":
            body["relink_result"] = {
                "account": record.result_account,
                "authorization": record.result_authorization,
                "failure_reason": record.failure_reason,
            }
    body["status"] = record.status
    if record.status == "cancelled":
        body["status_details"] = {"cancelled": {"reason": record.cancelled_reason}}
    hosted: dict[str, Any] | None = None
    if record.ui_mode == "hosted":
        hosted = {"return_url": record.return_url}
        if record.hosted_delivery_method is not None:
            hosted["delivery_method"] = record.hosted_delivery_method
    body["hosted"] = hosted
    body["ui_mode"] = record.ui_mode
    body["url"] = record.url
    return body


def webhook_endpoint(record: WebhookEndpoint) -> dict[str, Any]:
    """As Stripe lists it: the signing secret is only ever shown on create."""
    return {
        "id": record.id,
        "object": "webhook_endpoint",
        "api_version": record.api_version,
        "application": None,
        "created": record.created,
        "description": None,
        "enabled_events": list(record.enabled_events),
        "livemode": False,
        "metadata": {},
        "status": "enabled",
        "url": record.url,
    }


def customer(record: Customer) -> dict[str, Any]:
    """Every field of the spec's `customer` that a Customer without billing history has."""
    return {
        "id": record.id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": record.created,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": record.email,
        "invoice_prefix": record.id[-8:].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": record.default_payment_method,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": list(record.preferred_locales),
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def connected_account(record: ConnectedAccount) -> dict[str, Any]:
    return {
        "id": record.id,
        "object": "account",
        "business_type": None,
        "charges_enabled": True,
        "country": "US",
        "created": record.created,
        "default_currency": "usd",
        "email": record.email,
        "metadata": {},
        "payouts_enabled": True,
        "type": "custom",
    }


def setup_intent(record: SetupIntent) -> dict[str, Any]:
    return {
        "id": record.id,
        "object": "setup_intent",
        "allowed_payment_method_types": list(record.allowed_payment_method_types),
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": record.client_secret,
        "created": record.created,
        "customer": record.customer,
        "description": None,
        "excluded_payment_method_types": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": record.mandate,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": record.payment_method,
        "payment_method_configuration_details": None,
        "payment_method_options": {"us_bank_account": {"verification_method": "automatic"}},
        "payment_method_types": list(record.allowed_payment_method_types),
        "single_use_mandate": None,
        "status": record.status,
        "usage": record.usage,
    }


def event(record: Event) -> dict[str, Any]:
    """The stored payload, with the delivery counter as it stands now."""
    return {**record.body, "pending_webhooks": record.pending_webhooks}
