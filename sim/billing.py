"""PaymentMethods, a Customer's invoice default and Subscriptions: what switching a customer
to a new bank account touches. Stripe's shapes and errors; call with the lock held."""

from __future__ import annotations

from typing import Any

from sim import objects, prices
from sim.errors import StripeError, invalid, missing, parameter_unknown
from sim.ids import new_id, now
from sim.pagination import paginate
from sim.state import Customer, PaymentMethod, SimState, Subscription

PAYMENT_METHODS_URL = "/v1/payment_methods"
SUBSCRIPTIONS_URL = "/v1/subscriptions"
SUBSCRIPTION_STATUSES = (
    "active",
    "canceled",
    "ended",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
)
COMMON = {"expand"}


def only(params: dict[str, Any], allowed: set[str]) -> None:
    for key in params:
        if key not in allowed | COMMON:
            raise parameter_unknown(key)


def customer_of(state: SimState, customer_id: str, param: str = "id") -> Customer:
    record = state.customers.get(customer_id)
    if record is None:
        raise missing("customer", customer_id, param)
    return record


def attached(state: SimState, customer: Customer, pm_id: str, param: str) -> PaymentMethod:
    """A PaymentMethod the customer may use: unknown → resource_missing, another
    customer's (or nobody's) → Stripe's "must be attached" error."""
    record = state.payment_methods.get(pm_id)
    if record is None:
        raise StripeError(
            400, f"No such PaymentMethod: '{pm_id}'", code="resource_missing", param=param
        )
    if record.customer != customer.id:
        raise invalid(
            f"The customer does not have a payment method with the ID {pm_id}. The payment "
            "method must be attached to the customer.",
            param,
            "resource_missing",
        )
    return record


# payment methods


def create_payment_method(
    state: SimState, fca_id: str, billing_name: str | None, customer: str | None = None
) -> PaymentMethod:
    account = state.accounts[fca_id]
    record = PaymentMethod(
        id=new_id("pm"),
        created=now(),
        financial_connections_account=fca_id,
        last4=account.last4,
        billing_name=billing_name,
        customer=customer,
    )
    state.payment_methods[record.id] = record
    return record


def payment_method(state: SimState, record: PaymentMethod) -> dict[str, Any]:
    account = state.accounts.get(record.financial_connections_account)
    return {
        "id": record.id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": {
                "city": None,
                "country": None,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "email": None,
            "name": record.billing_name,
            "phone": None,
            "tax_id": None,
        },
        "created": record.created,
        "customer": record.customer,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "us_bank_account",
        "us_bank_account": {
            "account_holder_type": "individual",
            "account_type": "savings"
            if account is not None and account.subcategory == "savings"
            else "checking",
            "bank_name": account.institution_name.upper() if account else None,
            "financial_connections_account": record.financial_connections_account,
            "fingerprint": "fp" + record.financial_connections_account[-14:],
            "last4": record.last4,
            "networks": {"preferred": "ach", "supported": ["ach"]},
            "routing_number": "110000000",
            "status_details": {"blocked": {"network_code": None, "reason": record.blocked_reason}}
            if record.blocked_reason
            else {},
        },
    }


def list_payment_methods(
    state: SimState, params: dict[str, Any], customer_id: str | None = None
) -> dict[str, Any]:
    """GET /v1/payment_methods (`customer`, `type`) and /v1/customers/{id}/payment_methods."""
    allowed = {"type", "limit", "starting_after", "ending_before", "allow_redisplay"}
    only(params, allowed if customer_id else allowed | {"customer"})
    url = PAYMENT_METHODS_URL
    if customer_id is not None:
        customer_of(state, customer_id)
        url = f"/v1/customers/{customer_id}/payment_methods"
    elif "customer" in params:
        customer_id = customer_of(state, str(params["customer"]), "customer").id
    kind = params.get("type")
    if kind is not None and kind not in ("us_bank_account", "card", "sepa_debit", "link"):
        raise invalid(f"Invalid type: {kind}", "type")
    records = [
        pm
        for pm in state.payment_methods.values()
        if (customer_id is None or pm.customer == customer_id) and kind in (None, "us_bank_account")
    ]
    return paginate(
        records,
        params,
        url,
        lambda pm: payment_method(state, pm),
        lambda pm: pm.id,
        "payment method",
    )


def detach_payment_method(state: SimState, params: dict[str, Any], pm_id: str) -> dict[str, Any]:
    only(params, set())
    record = state.payment_methods.get(pm_id)
    if record is None:
        raise missing("payment_method", pm_id, "payment_method")
    if record.customer is None:
        raise invalid(
            "The payment method you provided is not attached to a customer so detachment "
            "is impossible.",
            "payment_method",
            "payment_method_unexpected_state",
        )
    record.customer = None
    if state.behaviours.detach_clears_defaults:  # Stripe does not document either way
        for subscription in state.subscriptions.values():
            if subscription.default_payment_method == pm_id:
                subscription.default_payment_method = None
        for customer in state.customers.values():
            if customer.default_payment_method == pm_id:
                customer.default_payment_method = None
    return payment_method(state, record)


# customers


def update_customer(state: SimState, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
    """POST /v1/customers/{id}: only `invoice_settings[default_payment_method]` here."""
    only(params, {"invoice_settings", "metadata", "email", "name", "description"})
    record = customer_of(state, customer_id)
    settings = params.get("invoice_settings")
    if settings is not None:
        if not isinstance(settings, dict):
            raise invalid("Invalid hash", "invoice_settings")
        for key in settings:
            if key not in ("default_payment_method", "custom_fields", "footer"):
                raise parameter_unknown(f"invoice_settings[{key}]")
        if "default_payment_method" in settings:
            pm_id = str(settings["default_payment_method"])
            if pm_id == "":
                record.default_payment_method = None
            else:
                param = "invoice_settings[default_payment_method]"
                record.default_payment_method = attached(state, record, pm_id, param).id
    return objects.customer(record)


# subscriptions


def create_subscription(
    state: SimState,
    customer_id: str,
    status: str,
    default_payment_method: str | None,
    items: list[dict[str, Any]] | None = None,
) -> Subscription:
    customer = customer_of(state, customer_id, "customer")
    if status not in SUBSCRIPTION_STATUSES:
        raise invalid(f"Invalid status: {status}", "status")
    if default_payment_method is not None:
        attached(state, customer, default_payment_method, "default_payment_method")
    created = now()
    record = Subscription(
        id=new_id("sub"),
        created=created,
        customer=customer_id,
        status=status,
        default_payment_method=default_payment_method,
        items=prices.new_items(items or [], created),
    )
    state.subscriptions[record.id] = record
    return record


def subscription(record: Subscription) -> dict[str, Any]:
    """Every required field of the spec's `subscription`, shaped as Stripe's example
    (openapi/fixtures3.json) for a plain charge_automatically subscription."""
    ended = record.created if record.status in ("canceled", "incomplete_expired") else None
    return {
        "id": record.id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": record.created,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": ended,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": record.created,
        "currency": record.items[0].currency if record.items else "usd",
        "customer": record.customer,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": record.default_payment_method,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": ended,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": [prices.subscription_item(record, item) for item in record.items],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={record.id}",
        },
        "latest_invoice": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": record.created,
        "status": record.status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }


def list_subscriptions(state: SimState, params: dict[str, Any]) -> dict[str, Any]:
    """`customer`, `status` (default: every status but canceled, as Stripe; `all`; `ended`:
    canceled and incomplete_expired)."""
    only(params, {"customer", "status", "limit", "starting_after", "ending_before", "price"})
    records = list(state.subscriptions.values())
    if "customer" in params:
        customer_id = customer_of(state, str(params["customer"]), "customer").id
        records = [s for s in records if s.customer == customer_id]
    status = params.get("status")
    if status is None:
        records = [s for s in records if s.status != "canceled"]  # as Stripe documents
    elif status == "ended":
        records = [s for s in records if s.status in ("canceled", "incomplete_expired")]
    elif status != "all":
        if status not in SUBSCRIPTION_STATUSES:
            raise invalid(
                f"Invalid status: must be one of {', '.join(('all', *SUBSCRIPTION_STATUSES))}",
                "status",
            )
        records = [s for s in records if s.status == status]
    return paginate(
        records, params, SUBSCRIPTIONS_URL, subscription, lambda s: s.id, "subscription"
    )


def update_subscription(
    state: SimState, params: dict[str, Any], subscription_id: str
) -> dict[str, Any]:
    """POST /v1/subscriptions/{id}: only `default_payment_method` (and `metadata`) here."""
    only(params, {"default_payment_method", "metadata", "description"})
    record = state.subscriptions.get(subscription_id)
    if record is None:
        raise missing("subscription", subscription_id)
    if record.status in ("canceled", "incomplete_expired"):
        raise invalid(
            "A canceled subscription can only update its cancellation_details and metadata.",
            None,
        )
    if "default_payment_method" in params:
        pm_id = str(params["default_payment_method"])
        if pm_id == "":
            record.default_payment_method = None
        else:
            customer = state.customers[record.customer]
            param = "default_payment_method"
            record.default_payment_method = attached(state, customer, pm_id, param).id
    return subscription(record)
