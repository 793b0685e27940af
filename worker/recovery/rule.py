"""Which of a customer's invoices relink pays again after a repair: plain functions over
typed values read from Stripe's Invoice and PaymentIntent.

An invoice is retried when it is `open` (not paid, void or uncollectible), not older than
RECOVERY_MAX_AGE_DAYS, not already attempted for this case, and its latest attempt (the
newest of its `payments`, a PaymentIntent) is `requires_payment_method` with a
`last_payment_error` naming a PaymentMethod of the broken Financial Connections account
(`payment_method.us_bank_account.financial_connections_account`). At most
RECOVERY_MAX_INVOICES per case, counting those already attempted, oldest first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SECONDS_PER_DAY = 86400
FAILED_ATTEMPT = "requires_payment_method"  # Stripe's PaymentIntent after a failed payment


@dataclass(frozen=True)
class InvoiceFacts:
    id: str
    status: str
    created: int
    amount_due: int
    currency: str
    last_attempt: str | None
    """The status of the invoice's newest PaymentIntent (None: never attempted, or not
    expanded)."""
    failed_payment_method: str | None
    failed_account: str | None
    """The PaymentMethod its last attempt failed on, and that PaymentMethod's FC account."""

    @classmethod
    def parse(cls, invoice: dict[str, Any]) -> InvoiceFacts:
        """From an Invoice with `payments.data.payment.payment_intent` expanded."""
        intent = _newest_intent(invoice)
        error = (intent or {}).get("last_payment_error") or {}
        payment_method = error.get("payment_method")
        pm_id = account = None
        if isinstance(payment_method, dict):
            pm_id = payment_method.get("id")
            account = (payment_method.get("us_bank_account") or {}).get(
                "financial_connections_account"
            )
        return cls(
            id=str(invoice["id"]),
            status=str(invoice.get("status")),
            created=int(invoice.get("created") or 0),
            amount_due=int(invoice.get("amount_due") or 0),
            currency=str(invoice.get("currency") or ""),
            last_attempt=(intent or {}).get("status"),
            failed_payment_method=pm_id,
            failed_account=account,
        )


def _newest_intent(invoice: dict[str, Any]) -> dict[str, Any] | None:
    """The newest attempt: the latest `created`; within one second, the first listed (Stripe
    lists an invoice's payments newest first)."""
    payments = (invoice.get("payments") or {}).get("data") or []
    intents = [
        (int(intent.get("created") or 0), -index, intent)
        for index, p in enumerate(payments)
        if isinstance(intent := (p.get("payment") or {}).get("payment_intent"), dict)
    ]
    return max(intents, key=lambda found: found[:2])[2] if intents else None


def skip_reason(
    invoice: InvoiceFacts, *, broken_accounts: frozenset[str], now: int, max_age_days: float
) -> str | None:
    """Why the invoice is not retried, or None when it is."""
    if invoice.status != "open":
        return invoice.status  # paid, void or uncollectible: never paid again by relink
    if invoice.created < now - max_age_days * SECONDS_PER_DAY:
        return "too_old"
    if invoice.last_attempt != FAILED_ATTEMPT or invoice.failed_payment_method is None:
        return "last_attempt_not_failed"  # never attempted, processing, or failed elsewhere
    if invoice.failed_account not in broken_accounts:
        return "failed_on_another_account"
    return None


def is_recent(invoice: dict[str, Any], *, now: int, max_age_days: float) -> bool:
    """A listed invoice young enough to read in full (the age part of the rule)."""
    return int(invoice.get("created") or 0) >= now - max_age_days * SECONDS_PER_DAY


def choose(
    invoices: Iterable[InvoiceFacts],
    *,
    broken_accounts: frozenset[str],
    now: int,
    max_age_days: float,
    max_invoices: int,
    attempted: frozenset[str],
) -> list[InvoiceFacts]:
    """The invoices to pay again now, oldest first, so the case's attempts stay within
    `max_invoices`."""
    room = max(0, max_invoices - len(attempted))
    eligible = [
        invoice
        for invoice in invoices
        if invoice.id not in attempted
        and skip_reason(
            invoice, broken_accounts=broken_accounts, now=now, max_age_days=max_age_days
        )
        is None
    ]
    return sorted(eligible, key=lambda invoice: (invoice.created, invoice.id))[:room]


def payment_method_for(invoice: InvoiceFacts, new_payment_method: str | None) -> str:
    """The working PaymentMethod: the new one a switch moved the customer to, else (the
    account repaired) the one the invoice failed on, which works again."""
    assert invoice.failed_payment_method is not None
    return new_payment_method or invoice.failed_payment_method
