"""How the dashboard writes its numbers: durations, percentages and times."""

from __future__ import annotations

from datetime import datetime

from shared.payments.money import format_amount


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def amounts(values: dict[str, int]) -> str:
    """Each currency apart: `50.00 USD, 75.00 EUR`; `-` for none."""
    return ", ".join(format_amount(a, c) for c, a in sorted(values.items())) or "-"


FILTERS = {
    "duration": duration,
    "percent": percent,
    "when": when,
    "amount": format_amount,
    "amounts": amounts,
}
