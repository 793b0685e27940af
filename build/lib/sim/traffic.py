"""Request-level behaviour in front of every `/v1` call: rate limiting and injected faults."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from sim.state import Faults


class RateLimiter:
    """A sliding one-second window over all API requests (Stripe test mode: 25/s)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamps: deque[float] = deque()

    def allow(self, per_second: float) -> bool:
        if per_second <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            while self._stamps and self._stamps[0] <= now - 1.0:
                self._stamps.popleft()
            if len(self._stamps) >= per_second:
                return False
            self._stamps.append(now)
            return True

    def clear(self) -> None:
        with self._lock:
            self._stamps.clear()


def pick_fault(faults: Faults, path: str, rng: random.Random) -> str | None:
    """`"drop"`, `"error"` or None for this request, drawn at the configured rates."""
    if not path.startswith(faults.path_prefix):
        return None
    if faults.drop_rate > 0 and rng.random() < faults.drop_rate:
        return "drop"
    if faults.error_rate > 0 and rng.random() < faults.error_rate:
        return "error"
    return None


class DroppedConnection(Response):
    """Starts a response and returns without finishing it: uvicorn then closes the socket,
    so the client sees the connection drop (an `APIConnectionError` in the SDK)."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers: list[Any] = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
