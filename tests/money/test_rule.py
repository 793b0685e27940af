"""The money-at-stake rule: monthly equivalents, which subscriptions count, failed amounts."""

from __future__ import annotations

from typing import Any

import pytest

from api.ops.formatting import amounts
from shared.payments.money import decimals, format_amount, major_units
from worker.money import rule
from worker.recovery.rule import InvoiceFacts

BROKEN_PM = frozenset({"pm_broken"})


def price(
    amount: int | None,
    interval: str = "month",
    count: int = 1,
    currency: str = "usd",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "currency": currency,
        "unit_amount": amount,
        "billing_scheme": extra.pop("billing_scheme", "per_unit"),
        "recurring": {"interval": interval, "interval_count": count, "usage_type": "licensed"}
        | extra,
    }


def sub(*items: dict[str, Any], status: str = "active", pm: str | None = "pm_broken") -> Any:
    return rule.SubscriptionFacts.parse(
        {
            "id": f"sub_{status}_{len(items)}_{pm}",
            "status": status,
            "default_payment_method": pm,
            "items": {"data": list(items)},
        }
    )


def item(p: dict[str, Any], quantity: int = 1) -> dict[str, Any]:
    return {"price": p, "quantity": quantity}


@pytest.mark.parametrize(
    ("interval", "count", "amount", "expected"),
    [
        ("month", 1, 1000, 1000),
        ("month", 3, 3000, 1000),
        ("year", 1, 12000, 1000),
        ("year", 1, 10000, 833),  # 833.33…
        ("week", 1, 1200, 5200),  # 1200 x 52 / 12
        ("week", 2, 1200, 2600),
        ("day", 1, 100, 3042),  # 100 x 365 / 12 = 3041.67
        ("day", 7, 700, 3042),
    ],
)
def test_monthly_equivalent_of_each_interval(
    interval: str, count: int, amount: int, expected: int
) -> None:
    at_risk = rule.monthly_at_risk([sub(item(price(amount, interval, count)))], None, BROKEN_PM)
    assert at_risk == {"usd": (expected, 1)}


def test_quantity_and_several_items_are_summed_exactly_then_rounded_once() -> None:
    # 3 x 1000/12 + 1 x 1000/12 = 333.33… : rounded once, not 250 + 83 per item
    subscription = sub(item(price(1000, "year"), 3), item(price(1000, "year")))
    assert rule.monthly_at_risk([subscription], None, BROKEN_PM) == {"usd": (333, 1)}


def test_currencies_are_kept_apart() -> None:
    subs = [
        sub(item(price(2000)), item(price(1500, currency="eur"))),
        sub(item(price(24000, "year", currency="eur")), pm="pm_broken"),
    ]
    assert rule.monthly_at_risk(subs, None, BROKEN_PM) == {"usd": (2000, 1), "eur": (3500, 2)}


def test_zero_decimal_currency_stays_in_its_minor_unit() -> None:
    at_risk = rule.monthly_at_risk(
        [sub(item(price(1200, "year", currency="jpy")))], None, BROKEN_PM
    )
    assert at_risk == {"jpy": (100, 1)}
    assert decimals("JPY") == 0
    assert major_units(100, "jpy") == 100
    assert decimals("usd") == 2
    assert str(major_units(833, "usd")) == "8.33"
    assert decimals("kwd") == 3
    assert str(major_units(1500, "kwd")) == "1.500"


def test_only_subscriptions_billing_a_broken_payment_method_count() -> None:
    subs = [
        sub(item(price(100)), pm="pm_other"),  # bills another PaymentMethod
        sub(item(price(200)), pm=None),  # bills the customer's default
        sub(item(price(400)), status="trialing"),
        sub(item(price(800)), status="canceled"),
        sub(item(price(1600)), status="past_due"),
    ]
    assert rule.monthly_at_risk(subs, "pm_broken", BROKEN_PM) == {"usd": (1800, 2)}
    assert rule.monthly_at_risk(subs, "pm_other", BROKEN_PM) == {"usd": (1600, 1)}


def test_metered_tiered_and_one_time_prices_have_no_fixed_amount() -> None:
    subscription = sub(
        item(price(500, usage_type="metered")),
        item(price(None, billing_scheme="tiered")),
        item({"currency": "usd", "unit_amount": 900, "recurring": None}),
        item(price(50)),
    )
    assert rule.monthly_at_risk([subscription], None, BROKEN_PM) == {"usd": (50, 1)}


def test_a_decimal_unit_amount_is_exact() -> None:
    p = price(None) | {"unit_amount_decimal": "0.5"}
    assert rule.monthly_at_risk([sub(item(p, 3))], None, BROKEN_PM) == {"usd": (2, 1)}


def invoice(amount: int, currency: str = "usd", **facts: Any) -> InvoiceFacts:
    defaults: dict[str, Any] = {
        "id": f"in_{amount}",
        "status": "open",
        "created": 0,
        "amount_due": amount,
        "currency": currency,
        "last_attempt": "requires_payment_method",
        "failed_payment_method": "pm_broken",
        "failed_account": "fca_broken",
    }
    return InvoiceFacts(**(defaults | facts))


def test_failed_due_counts_open_invoices_failed_on_a_broken_account_per_currency() -> None:
    invoices = [
        invoice(1500),
        invoice(2500),
        invoice(900, "eur"),
        invoice(700, status="void"),
        invoice(600, status="paid"),
        invoice(500, last_attempt="processing"),
        invoice(400, failed_account="fca_elsewhere"),
    ]
    assert rule.failed_due(invoices, frozenset({"fca_broken"})) == {
        "usd": (4000, 2),
        "eur": (900, 1),
    }


def test_amounts_are_written_in_the_major_unit_with_the_currency_s_decimals() -> None:
    assert format_amount(123456, "usd") == "1,234.56 USD"
    assert format_amount(1200, "jpy") == "1,200 JPY"
    assert format_amount(1500, "kwd") == "1.500 KWD"
    assert amounts({"usd": 6000, "eur": 10000}) == "100.00 EUR, 60.00 USD"
    assert amounts({}) == "-"


def test_a_subscription_with_more_items_than_embedded_says_so() -> None:
    listed = {
        "id": "sub_1",
        "status": "active",
        "default_payment_method": "pm_broken",
        "items": {"data": [item(price(100))], "has_more": True},
    }
    assert rule.SubscriptionFacts.parse(listed).more_items
    assert not sub(item(price(100))).more_items
