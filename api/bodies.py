"""Reading a request body with a cap: a larger Content-Length is refused unread, and a body
without one is cut off as soon as it streams past the cap (never read whole first)."""

from __future__ import annotations

from fastapi import Request

from shared.errors import InvalidRequestError


class BodyTooLarge(InvalidRequestError):
    """A request body over its route's cap."""

    code = "too_large"
    http_status = 413


def _over(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"the body exceeds {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, up to `limit` bytes; BodyTooLarge past it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _over(limit)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _over(limit)
    return bytes(body)
