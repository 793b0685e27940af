"""The money at stake on a case: plain functions over typed values read from Stripe.

Revenue at risk is the monthly amount of the customer's subscriptions that bill the broken
account: a subscription in `active` or `past_due` (a failed payment makes it past_due; a
trial bills nothing yet, a paused or canceled one nothing at all) whose PaymentMethod is the
subscription's `default_payment_method`, else the Customer's
`invoice_settings.default_payment_method`, and is a `us_bank_account` PaymentMethod of one of
the broken Financial Connections accounts.

Each item's monthly amount is proration-free: `unit_amount` x `quantity` per
`interval_count` intervals, an interval being a month, a year (/ 12), a week (x 52 / 12) or
a day (x 365 / 12). Metered and tiered prices have no fixed amount and are left out. The
items are summed exactly per currency and rounded once (half to even) in the currency's minor
unit, the unit Stripe's amounts are in; currencies are never summed together.

The failed amount is the `amount_due` of the open invoices whose last attempt failed on a
PaymentMethod of a broken account (worker/recovery/rule.py reads the attempts), per
currency."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from worker.recovery.rule import FAILED_ATTEMPT, InvoiceFacts

BILLING_STATUSES = frozenset({"active", "past_due"})
MONTHS_PER_INTERVAL = {
    "month": Fraction(1),
    "year": Fraction(12),
    "week": Fraction(12, 52),
    "day": Fraction(12, 365),
}


@dataclass(frozen=True)
class Item:
    currency: str
    unit_amount: Fraction | None  # None: metered or tiered, no fixed amount
    quantity: int
    interval: str
    interval_count: int

    @classmethod
    def parse(cls, item: dict[str, Any]) -> Item | None:
        """From a subscription item with its `price`; None for a price that does not recur."""
        price = item.get("price") or {}
        recurring = price.get("recurring") or {}
        if recurring.get("interval") not in MONTHS_PER_INTERVAL:
            return None
        amount: Fraction | None = None
        if price.get("billing_scheme", "per_unit") == "per_unit":
            if price.get("unit_amount") is not None:
                amount = Fraction(int(price["unit_amount"]))
            elif price.get("unit_amount_decimal") is not None:
                amount = Fraction(Decimal(str(price["unit_amount_decimal"])))
        if recurring.get("usage_type") == "metered":
            amount = None
        return cls(
            currency=str(price.get("currency") or "").lower(),
            unit_amount=amount,
            quantity=int(item.get("quantity") or 0) if "quantity" in item else 1,
            interval=str(recurring["interval"]),
            interval_count=max(1, int(recurring.get("interval_count") or 1)),
        )


@dataclass(frozen=True)
class SubscriptionFacts:
    id: str
    status: str
    default_payment_method: str | None
    items: tuple[Item, ...]
    more_items: bool = False
    """The embedded `items` list has more pages (not read: those items are not counted)."""

    @classmethod
    def parse(cls, subscription: dict[str, Any]) -> SubscriptionFacts:
        pm = subscription.get("default_payment_method")
        if isinstance(pm, dict):
            pm = pm.get("id")
        embedded = subscription.get("items") or {}
        listed = embedded.get("data") or []
        items = tuple(i for i in (Item.parse(item) for item in listed) if i is not None)
        return cls(
            id=str(subscription["id"]),
            status=str(subscription.get("status")),
            default_payment_method=pm,
            items=items,
            more_items=bool(embedded.get("has_more")),
        )


def monthly(item: Item) -> Fraction:
    """The item's exact monthly amount, minor units (0 without a fixed amount)."""
    if item.unit_amount is None:
        return Fraction(0)
    months = MONTHS_PER_INTERVAL[item.interval] * item.interval_count
    return item.unit_amount * item.quantity / months


def bills_broken_account(
    subscription: SubscriptionFacts,
    customer_default: str | None,
    broken_payment_methods: frozenset[str],
) -> bool:
    payment_method = subscription.default_payment_method or customer_default
    return subscription.status in BILLING_STATUSES and payment_method in broken_payment_methods


def monthly_at_risk(
    subscriptions: Iterable[SubscriptionFacts],
    customer_default: str | None,
    broken_payment_methods: frozenset[str],
) -> dict[str, tuple[int, int]]:
    """Per currency: the monthly amount (rounded once, minor units) and how many
    subscriptions bill it."""
    amounts: dict[str, Fraction] = defaultdict(Fraction)
    counted: dict[str, set[str]] = defaultdict(set)
    for subscription in subscriptions:
        if not bills_broken_account(subscription, customer_default, broken_payment_methods):
            continue
        for item in subscription.items:
            amounts[item.currency] += monthly(item)
            counted[item.currency].add(subscription.id)
    return {currency: (round(amounts[currency]), len(counted[currency])) for currency in amounts}


def failed_on_broken(invoice: InvoiceFacts, broken_accounts: frozenset[str]) -> bool:
    return (
        invoice.status == "open"
        and invoice.last_attempt == FAILED_ATTEMPT
        and invoice.failed_account in broken_accounts
    )


def failed_due(
    invoices: Iterable[InvoiceFacts], broken_accounts: frozenset[str]
) -> dict[str, tuple[int, int]]:
    """Per currency: the amount due on the invoices that failed on a broken account, and
    how many."""
    totals: dict[str, tuple[int, int]] = {}
    for invoice in invoices:
        if failed_on_broken(invoice, broken_accounts):
            amount, count = totals.get(invoice.currency, (0, 0))
            totals[invoice.currency] = (amount + invoice.amount_due, count + 1)
    return totals
