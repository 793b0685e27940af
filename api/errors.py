"""Rejections the api answers with a precise status and a JSON body naming the failed check."""

from __future__ import annotations

import orjson
from prometheus_client import Counter

REJECTIONS = Counter("relink_webhook_rejections", "Webhook deliveries refused", ["check"])


class Rejected(Exception):
    def __init__(self, status_code: int, check: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.check = check
        self.message = message


def rejection_body(exc: Rejected) -> bytes:
    """The documented error shape, counted by check."""
    REJECTIONS.labels(check=exc.check).inc()
    return orjson.dumps({"error": {"check": exc.check, "message": exc.message}})
