"""Invoices and their payment attempts (PaymentIntents): what recovering a failed payment
touches. An invoice is `open` while unpaid (its last attempt failed, or an ACH debit is
`processing`), then `paid`, `void` or `uncollectible`. `pay` on a us_bank_account
PaymentMethod leaves it open with a `processing` PaymentIntent; `settle` ends that debit as
the invoice's `ach_outcome` says and emits `invoice.paid` or `invoice.payment_failed`.

Shapes: the spec's `invoice`, `invoice_payment` and `payment_intent` (tests/conformance). From
API version 2025-03-31 an invoice names its PaymentIntents only through `payments`, an
includable list (`expand[]=payments`, `payments.data.payment.payment_intent`). Call with the
lock held."""

from __future__ import annotations

from typing import Any

from sim import billing
from sim.errors import StripeError, invalid, missing, parameter_missing
from sim.events import emit
from sim.ids import new_id, now
from sim.pagination import paginate
from sim.state import Invoice, PaymentIntent, SimState

INVOICES_URL = "/v1/invoices"
STATUSES = ("draft", "open", "paid", "uncollectible", "void")
EXPAND_PAYMENTS = "payments"
EXPAND_PAYMENT_INTENTS = "payments.data.payment.payment_intent"
# Stripe's 400s for paying an invoice that cannot be paid: "Invoice is already paid" is
# reported verbatim by Stripe users; the void message and both codes are not documented.
ALREADY_PAID = "Invoice is already paid"
VOIDED = "This invoice can no longer be paid because it has been voided."
BANK_ACCOUNT_UNUSABLE_CODE = "bank_account_unusable"
BANK_ACCOUNT_UNUSABLE = (
    "The bank account provided cannot be used. Please provide a different bank account."
)


def create_invoice(
    state: SimState,
    customer_id: str,
    amount_due: int,
    *,
    currency: str = "usd",
    created: int | None = None,
    subscription: str | None = None,
    failed_on: str | None = None,
    ach_outcome: str = "succeeded",
) -> Invoice:
    """An open invoice; `failed_on` a PaymentMethod: its first attempt failed there, as an ACH
    debit fails on a deactivated tokenized account number (the PaymentMethod `blocked`,
    `tokenized_account_number_deactivated`)."""
    customer = billing.customer_of(state, customer_id, "customer")
    if ach_outcome not in ("succeeded", "failed"):
        raise invalid(f"Invalid ach_outcome: {ach_outcome}", "ach_outcome")
    record = Invoice(
        id=new_id("in"),
        created=created or now(),
        customer=customer.id,
        amount_due=amount_due,
        currency=currency,
        status="open",
        subscription=subscription,
        ach_outcome=ach_outcome,
    )
    state.invoices[record.id] = record
    if failed_on is not None:
        billing.attached(state, customer, failed_on, "payment_method")
        intent = _new_intent(state, record, failed_on)
        _fail(state, intent, blocked=True)
    return record


def _new_intent(state: SimState, record: Invoice, pm_id: str) -> PaymentIntent:
    intent = PaymentIntent(
        id=new_id("pi"),
        created=now(),
        amount=record.amount_due,
        currency=record.currency,
        customer=record.customer,
        invoice=record.id,
        payment_method=pm_id,
        status="processing",
    )
    state.payment_intents[intent.id] = intent
    record.payment_intents.append(intent.id)
    return intent


def _fail(state: SimState, intent: PaymentIntent, *, blocked: bool) -> None:
    """The debit was returned: the PaymentIntent asks for another payment method and names the
    one that failed (in full, as Stripe's `last_payment_error.payment_method`, as it was then:
    `blocked` by its deactivated tokenized account number, or a plain return)."""
    pm = billing.payment_method(state, state.payment_methods[intent.payment_method])
    intent.status = "requires_payment_method"
    if blocked:
        pm["us_bank_account"]["status_details"] = {
            "blocked": {"network_code": None, "reason": "tokenized_account_number_deactivated"}
        }
        code, message = BANK_ACCOUNT_UNUSABLE_CODE, BANK_ACCOUNT_UNUSABLE
    else:
        code, message = "insufficient_funds", "The customer's account has insufficient funds."
    intent.last_payment_error = {
        "type": "invalid_request_error",
        "code": code,
        "message": message,
        "payment_method": pm,
    }


def invoice(state: SimState, record: Invoice, expand: list[str] | None = None) -> dict[str, Any]:
    """Every required field of the spec's `invoice` for a one-line charge_automatically
    invoice; `payments` only when expanded."""
    paid = record.status == "paid"
    attempted = bool(record.payment_intents)
    body: dict[str, Any] = {
        "id": record.id,
        "object": "invoice",
        "account_country": "US",
        "account_name": None,
        "account_tax_ids": None,
        "amount_due": record.amount_due,
        "amount_overpaid": 0,
        "amount_paid": record.amount_due if paid else 0,
        "amount_remaining": 0 if paid else record.amount_due,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": len(record.payment_intents),
        "attempted": attempted,
        "auto_advance": record.status == "open",
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": "subscription_cycle" if record.subscription else "manual",
        "collection_method": "charge_automatically",
        "created": record.created,
        "currency": record.currency,
        "custom_fields": None,
        "customer": record.customer,
        "customer_account": None,
        "customer_address": None,
        "customer_email": None,
        "customer_name": None,
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": record.created,
        "ending_balance": 0,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{record.id}",
        "invoice_pdf": f"https://pay.stripe.com/invoice/{record.id}/pdf",
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"{INVOICES_URL}/{record.id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": record.id[-8:].upper(),
        "on_behalf_of": None,
        "parent": _parent(record),
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": record.created,
        "period_start": record.created,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": record.status,
        "status_transitions": {
            "finalized_at": record.created,
            "marked_uncollectible_at": record.marked_uncollectible_at,
            "paid_at": record.paid_at,
            "voided_at": record.voided_at,
        },
        "subtotal": record.amount_due,
        "subtotal_excluding_tax": record.amount_due,
        "test_clock": None,
        "total": record.amount_due,
        "total_discount_amounts": [],
        "total_excluding_tax": record.amount_due,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": record.created,
    }
    expand = expand or []
    if EXPAND_PAYMENTS in expand or EXPAND_PAYMENT_INTENTS in expand:
        full = EXPAND_PAYMENT_INTENTS in expand
        payments = [_invoice_payment(state, record, pi, full) for pi in record.payment_intents]
        body["payments"] = {
            "object": "list",
            "data": payments[::-1],  # newest first, as Stripe lists
            "has_more": False,
            "url": f"/v1/invoice_payments?invoice={record.id}",
        }
    return body


def _parent(record: Invoice) -> dict[str, Any] | None:
    if record.subscription is None:
        return None
    return {
        "quote_details": None,
        "subscription_details": {"metadata": {}, "subscription": record.subscription},
        "type": "subscription_details",
    }


def _invoice_payment(
    state: SimState, record: Invoice, pi_id: str, expanded: bool
) -> dict[str, Any]:
    intent = state.payment_intents[pi_id]
    status = {"succeeded": "paid", "processing": "open"}.get(intent.status, "canceled")
    if intent.status == "requires_payment_method" and pi_id == record.payment_intents[-1]:
        status = "open"  # the invoice's default payment, still open for another method
    return {
        "id": "inpay_" + pi_id.removeprefix("pi_"),
        "object": "invoice_payment",
        "amount_paid": intent.amount if intent.status == "succeeded" else None,
        "amount_requested": intent.amount,
        "created": intent.created,
        "currency": intent.currency,
        "invoice": record.id,
        "is_default": pi_id == record.payment_intents[-1],
        "livemode": False,
        "payment": {
            "payment_intent": payment_intent(state, intent) if expanded else pi_id,
            "type": "payment_intent",
        },
        "status": status,
        "status_transitions": {
            "canceled_at": None,
            "paid_at": record.paid_at if intent.status == "succeeded" else None,
        },
    }


def payment_intent(state: SimState, record: PaymentIntent) -> dict[str, Any]:
    """Every required field of the spec's `payment_intent` for an invoice's ACH debit."""
    return {
        "id": record.id,
        "object": "payment_intent",
        "amount": record.amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": record.amount if record.status == "succeeded" else 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{record.id}_secret_{record.id[-12:]}",
        "confirmation_method": "automatic",
        "created": record.created,
        "currency": record.currency,
        "customer": record.customer,
        "customer_account": None,
        "description": None,
        "excluded_payment_method_types": None,
        "last_payment_error": record.last_payment_error,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": record.payment_method,
        "payment_method_configuration_details": None,
        "payment_method_options": {"us_bank_account": {"verification_method": "automatic"}},
        "payment_method_types": ["us_bank_account"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": record.status,
        "transfer_data": None,
        "transfer_group": None,
    }


def _record(state: SimState, invoice_id: str) -> Invoice:
    record = state.invoices.get(invoice_id)
    if record is None:
        raise missing("invoice", invoice_id, "invoice")
    return record


def _expand(params: dict[str, Any]) -> list[str]:
    raw = params.get("expand") or []
    expand = [str(item) for item in (raw if isinstance(raw, list) else [raw])]
    for item in expand:
        if item.removeprefix("data.") not in (EXPAND_PAYMENTS, EXPAND_PAYMENT_INTENTS):
            raise invalid(f"This property cannot be expanded ({item}).", "expand")
    return expand


def retrieve_invoice(state: SimState, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    billing.only(params, set())
    return invoice(state, _record(state, invoice_id), _expand(params))


def list_invoices(state: SimState, params: dict[str, Any]) -> dict[str, Any]:
    """`customer`, `status`, `subscription`; newest first."""
    billing.only(
        params, {"customer", "status", "subscription", "limit", "starting_after", "ending_before"}
    )
    records = sorted(state.invoices.values(), key=lambda i: (i.created, i.id), reverse=True)
    if "customer" in params:
        customer_id = billing.customer_of(state, str(params["customer"]), "customer").id
        records = [i for i in records if i.customer == customer_id]
    if "status" in params:
        status = str(params["status"])
        if status not in STATUSES:
            raise invalid(f"Invalid status: must be one of {', '.join(STATUSES)}", "status")
        records = [i for i in records if i.status == status]
    if "subscription" in params:
        records = [i for i in records if i.subscription == params["subscription"]]
    expand = [e.removeprefix("data.") for e in _expand(params)]
    return paginate(
        records,
        params,
        INVOICES_URL,
        lambda i: invoice(state, i, expand),
        lambda i: i.id,
        "invoice",
    )


def pay_invoice(state: SimState, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    """POST /v1/invoices/{id}/pay with `payment_method`: an ACH debit starts (`processing`);
    the invoice stays open until `settle`."""
    billing.only(params, {"payment_method", "off_session", "paid_out_of_band", "source"})
    record = _record(state, invoice_id)
    if record.status == "paid":
        raise invalid(ALREADY_PAID, None, "invoice_already_paid")
    if record.status == "void":
        raise invalid(VOIDED, None, "invoice_not_editable")
    if record.status == "draft":
        raise invalid("This invoice is not finalized.", None, "invoice_not_editable")
    if record.payment_intents:
        last = state.payment_intents[record.payment_intents[-1]]
        if last.status == "processing":
            raise invalid(
                "This invoice has a payment that is processing.", None, "invoice_payment_processing"
            )
    pm_id = params.get("payment_method")
    if pm_id is None:
        raise parameter_missing("payment_method")
    customer = billing.customer_of(state, record.customer, "customer")
    billing.attached(state, customer, str(pm_id), "payment_method")
    _new_intent(state, record, str(pm_id))
    return invoice(state, record)


def settle(state: SimState, invoice_id: str) -> Invoice:
    """End the invoice's processing debit as `ach_outcome` says; emit its event."""
    record = _record(state, invoice_id)
    intent = state.payment_intents[record.payment_intents[-1]] if record.payment_intents else None
    if intent is None or intent.status != "processing":
        raise StripeError(400, f"Invoice {invoice_id} has no processing payment")
    if record.ach_outcome == "succeeded":
        intent.status = "succeeded"
        record.status, record.paid_at = "paid", now()
        kind = "invoice.paid"
    else:
        _fail(state, intent, blocked=False)
        kind = "invoice.payment_failed"
    emit(state, kind, record.id, lambda version: invoice(state, record))
    return record


def close(state: SimState, invoice_id: str, status: str) -> Invoice:
    """Void the invoice or mark it uncollectible (as the Dashboard does)."""
    record = _record(state, invoice_id)
    if status == "void":
        record.status, record.voided_at = "void", now()
    elif status == "uncollectible":
        record.status, record.marked_uncollectible_at = "uncollectible", now()
    else:
        raise invalid(f"Invalid status: {status}", "status")
    return record
