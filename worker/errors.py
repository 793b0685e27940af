"""How the worker tells errors worth retrying from errors that retrying cannot fix."""

from __future__ import annotations

import random

import stripe
from sqlalchemy.exc import OperationalError

from shared.errors import RelinkError


class PermanentEventError(RelinkError):
    """The event cannot be processed as it is (a bad payload, a wrong API version)."""

    code = "event_not_processable"

    def __init__(self, event_id: str, reason: str) -> None:
        super().__init__(f"{event_id}: {reason}")
        self.event_id = event_id
        self.reason = reason


# Stripe connection problems, 429s and 5xx (APIError), and a database that went away.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    stripe.APIConnectionError,
    stripe.RateLimitError,
    stripe.APIError,
    OperationalError,
)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0


def backoff(retries: int) -> float:
    """Exponential backoff with full jitter, capped."""
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**retries))
