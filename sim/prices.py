"""A subscription's items and their recurring prices, in Stripe's shapes (`subscription_item`
with its `price` and the legacy `plan` Stripe still renders beside it). Each item has a
price of its own (no product catalog): enough for relink to read what a subscription bills."""

from __future__ import annotations

from typing import Any

from sim.errors import invalid
from sim.ids import new_id
from sim.state import Subscription, SubscriptionItem

INTERVALS = {"day": 86400, "week": 7 * 86400, "month": 30 * 86400, "year": 365 * 86400}
"""An interval's length for `current_period_end` (a month as 30 days: the simulator's
approximation of Stripe's calendar periods)."""


def new_item(spec: dict[str, Any], created: int, currency: str | None = None) -> SubscriptionItem:
    """From `{unit_amount, currency, interval, interval_count, quantity, usage_type}`; every
    item of a subscription shares its currency, as Stripe requires."""
    interval = str(spec.get("interval") or "month")
    if interval not in INTERVALS:
        raise invalid(f"Invalid interval: {interval}", "items[price_data][recurring][interval]")
    item_currency = str(spec.get("currency") or currency or "usd").lower()
    if currency is not None and item_currency != currency:
        raise invalid(
            "All prices on a subscription must have the same `currency`.", "items[price_data]"
        )
    return SubscriptionItem(
        id=new_id("si"),
        created=created,
        price=new_id("price"),
        currency=item_currency,
        unit_amount=int(spec.get("unit_amount") or 0),
        interval=interval,
        interval_count=int(spec.get("interval_count") or 1),
        quantity=int(spec.get("quantity") or 1),
        usage_type=str(spec.get("usage_type") or "licensed"),
    )


def new_items(specs: list[dict[str, Any]], created: int) -> list[SubscriptionItem]:
    items: list[SubscriptionItem] = []
    for spec in specs:
        items.append(new_item(spec, created, items[0].currency if items else None))
    return items


def price(item: SubscriptionItem) -> dict[str, Any]:
    return {
        "id": item.price,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": item.created,
        "currency": item.currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": "prod_" + item.price[len("price_") :],
        "recurring": {
            "interval": item.interval,
            "interval_count": item.interval_count,
            "meter": None,
            "trial_period_days": None,
            "usage_type": item.usage_type,
        },
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": item.unit_amount,
        "unit_amount_decimal": str(item.unit_amount),
    }


def plan(item: SubscriptionItem) -> dict[str, Any]:
    """The legacy Plan Stripe renders for a recurring price (same id)."""
    return {
        "id": item.price,
        "object": "plan",
        "active": True,
        "amount": item.unit_amount,
        "amount_decimal": str(item.unit_amount),
        "billing_scheme": "per_unit",
        "created": item.created,
        "currency": item.currency,
        "interval": item.interval,
        "interval_count": item.interval_count,
        "livemode": False,
        "metadata": {},
        "meter": None,
        "nickname": None,
        "product": "prod_" + item.price[len("price_") :],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": item.usage_type,
    }


def subscription_item(record: Subscription, item: SubscriptionItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": item.created,
        "current_period_end": record.created + INTERVALS[item.interval] * item.interval_count,
        "current_period_start": record.created,
        "current_trial": None,
        "discounts": [],
        "metadata": {},
        "plan": plan(item),
        "price": price(item),
        "quantity": item.quantity,
        "subscription": record.id,
        "tax_rates": [],
    }
