"""Stripe-looking object ids and timestamps."""

from __future__ import annotations

import itertools
import secrets
import string
import threading
import time

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """An id like Stripe's, e.g. `fca_1Pgc76B7WZ01zgkWqlYVCIub`."""
    return f"{prefix}_1" + "".join(secrets.choice(_ALPHABET) for _ in range(length - 1))


def now() -> int:
    """Unix seconds, as Stripe's `created`."""
    return int(time.time())


_sequence = itertools.count()
_sequence_lock = threading.Lock()


def sortable_id(prefix: str, length: int = 24) -> str:
    """An id whose order is creation order (Stripe's ids carry a time component too), so
    events created in the same second still sort as they happened."""
    with _sequence_lock:
        stamp = time.time_ns() // 1000 * 1000 + next(_sequence) % 1000
    head = ""
    for _ in range(11):
        stamp, digit = divmod(stamp, len(_ALPHABET_SORTED))
        head = _ALPHABET_SORTED[digit] + head
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(length - 1 - len(head)))
    return f"{prefix}_1{head}{tail}"


_ALPHABET_SORTED = "".join(sorted(_ALPHABET))  # ASCII order, so string order = numeric order
