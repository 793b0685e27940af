"""API versions: which are previews, and which changed behaviour we simulate."""

from __future__ import annotations

import re

from sim.errors import StripeError

GA_DEFAULT = "2026-10-28.endive"
"""The account default version: used when a request sends no `Stripe-Version`."""
PREVIEW_DEFAULT = "2026-09-30.preview"
PAYMENT_METHOD_TYPES_REMOVED = "2026-09-30"

_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z_]+)?$")


def is_preview(version: str) -> bool:
    return version.endswith(".preview")


def release_date(version: str) -> str:
    return version[:10]


def parse(header: str | None) -> str:
    """The version a request runs at; Stripe answers 400 to a malformed one."""
    if not header:
        return GA_DEFAULT
    if not _VERSION.match(header):
        raise StripeError(
            400,
            f"Invalid Stripe API version: {header}. Please use a version from "
            "https://docs.stripe.com/upgrades.",
        )
    return header
