"""POST /webhooks/stripe and /webhooks/stripe/connect as a plain ASGI handler in front of
FastAPI's routing: the same checks (api.webhooks.routes), without the framework's request
objects, dependency solving and response classes on the hot path. Every other request, and
every other method on these paths, goes on to the FastAPI app."""

from __future__ import annotations

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_body
from api.webhooks.inbox_writer import InboxWriter
from api.webhooks.routes import (
    ENDPOINTS,
    MAX_BODY_BYTES,
    accepted,
    accepted_body,
    declared_too_large,
    too_large,
)
from shared.errors import RelinkError

_JSON = (b"content-type", b"application/json")
# Labelled `check` (the error's code) as it was before the error shape had a `code`.
REJECTIONS = Counter("relink_webhook_rejections", "Webhook deliveries refused", ["check"])


class WebhookReceiver:
    def __init__(self, app: ASGIApp, writer: InboxWriter) -> None:
        self.app = app
        self.writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        verify = ENDPOINTS.get(scope["path"]) if scope["type"] == "http" else None
        if verify is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        try:
            if declared_too_large(headers.get("content-length")):
                raise too_large()
            body = await _body(receive)
            if body is None:
                return  # the client went away: nothing to answer
            header, payload = verify(body, headers.get("stripe-signature"))
            outcome = await self.writer.submit(accepted(header, payload))
        except RelinkError as error:
            REJECTIONS.labels(check=error.code).inc()
            await _answer(send, error.http_status, error_body(error))
            return
        await _answer(send, 200, accepted_body(header, outcome))


def _headers(scope: Scope) -> dict[str, str]:
    """The two headers read, decoded as Starlette does (latin-1); the first of each wins."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in (b"content-length", b"stripe-signature"):
            found.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return found


async def _body(receive: Receive) -> bytes | None:
    """The raw body, refused with 413 as soon as it passes MAX_BODY_BYTES; None on disconnect."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes) -> None:
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [length, _JSON]})
    await send({"type": "http.response.body", "body": body})
