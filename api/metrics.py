"""GET /metrics/: the Prometheus metrics (every process's, summed, under
PROMETHEUS_MULTIPROC_DIR), behind `Authorization: Bearer METRICS_TOKEN` when a
token is set (compared in constant time; refused in the error shape, api/errors.py)."""

from __future__ import annotations

import hmac

from prometheus_client import make_asgi_app
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_body
from shared.errors import AuthenticationError
from shared.metrics import export_registry
from shared.settings import Settings


def metrics_app(settings: Settings) -> ASGIApp:
    metrics = make_asgi_app(export_registry(money_at_stake=True))
    if settings.metrics_token is None:
        return metrics
    expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
    refusal = error_body(AuthenticationError("Authorization: Bearer <METRICS_TOKEN> is required"))

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if scope["type"] == "http" and not hmac.compare_digest(given, expected):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"www-authenticate", b"Bearer"),
                        (b"content-type", b"application/json"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": refusal})
            return
        await metrics(scope, receive, send)

    return guarded
