"""Rejections the api answers with a precise status and a JSON body naming the failed check."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter

REJECTIONS = Counter("relink_webhook_rejections", "Webhook deliveries refused", ["check"])


class Rejected(Exception):
    def __init__(self, status_code: int, check: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.check = check
        self.message = message


async def rejected_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Rejected)
    REJECTIONS.labels(check=exc.check).inc()
    return JSONResponse(
        {"error": {"check": exc.check, "message": exc.message}}, status_code=exc.status_code
    )
