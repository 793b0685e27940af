"""Stripe list pagination: newest first, `limit` 1-100 (default 10), cursors by id."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sim.errors import StripeError, invalid
from sim.objects import list_object

T = TypeVar("T")


def parse_limit(params: dict[str, Any]) -> int:
    raw = params.get("limit", "10")
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise invalid(f"Invalid integer: {raw}", "limit", "parameter_invalid_integer") from None
    if limit < 1 or limit > 100:
        raise invalid(
            "This value must be greater than or equal to 1 and less than or equal to 100.",
            "limit",
            "parameter_invalid_integer",
        )
    return limit


def paginate(
    records: Sequence[T],
    params: dict[str, Any],
    url: str,
    render: Callable[[T], dict[str, Any]],
    key: Callable[[T], str],
    kind: str,
) -> dict[str, Any]:
    """`records` are in creation order; the page is newest first, as Stripe lists."""
    if "starting_after" in params and "ending_before" in params:
        raise invalid(
            "You may only specify one of these parameters: starting_after, ending_before.",
            "starting_after",
            "parameters_exclusive",
        )
    limit = parse_limit(params)
    newest_first = list(reversed(records))
    ids = [key(record) for record in newest_first]
    if "starting_after" in params:
        cursor = str(params["starting_after"])
        if cursor not in ids:
            raise StripeError(
                400,
                f"No such {kind}: '{cursor}'",
                code="resource_missing",
                param="starting_after",
            )
        start = ids.index(cursor) + 1
        page = newest_first[start : start + limit]
        has_more = start + limit < len(newest_first)
    elif "ending_before" in params:
        cursor = str(params["ending_before"])
        if cursor not in ids:
            raise StripeError(
                400,
                f"No such {kind}: '{cursor}'",
                code="resource_missing",
                param="ending_before",
            )
        end = ids.index(cursor)
        page = newest_first[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        page = newest_first[:limit]
        has_more = len(newest_first) > limit
    return list_object([render(record) for record in page], url, has_more)
