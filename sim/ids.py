"""Stripe-looking object ids and timestamps."""

from __future__ import annotations

import secrets
import string
import time

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """An id like Stripe's, e.g. `fca_1Pgc76B7WZ01zgkWqlYVCIub`."""
    return f"{prefix}_1" + "".join(secrets.choice(_ALPHABET) for _ in range(length - 1))


def now() -> int:
    """Unix seconds, as Stripe's `created`."""
    return int(time.time())
