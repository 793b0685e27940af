"""Reading a request body with a cap: a larger Content-Length is refused unread, and a body
without one is cut off as soon as it streams past the cap (never read whole first)."""

from __future__ import annotations

from fastapi import Request


class BodyTooLarge(Exception):
    """A request body over its route's cap."""


async def read_body(request: Request, limit: int) -> bytes:
    """The body, up to `limit` bytes; BodyTooLarge past it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)
