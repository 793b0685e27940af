"""How the worker tells errors worth retrying from errors that retrying cannot fix."""

from __future__ import annotations

import stripe
from sqlalchemy.exc import OperationalError

from shared import delivery
from shared.delivery import BACKOFF_CAP_SECONDS as BACKOFF_CAP_SECONDS  # the tasks' ceiling
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


def backoff(retries: int) -> float:
    """A Celery task's countdown before retry `retries` + 1: the delivery backoff."""
    return delivery.backoff(retries + 1)
