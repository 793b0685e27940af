"""A real SMTP sink on a free port (aiosmtpd), keeping every message for assertions."""

from __future__ import annotations

import contextlib
import email
import email.policy
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.integration.stack import free_port, wait_until


class SmtpSink:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"smtp://127.0.0.1:{port}"
        self.messages: list[EmailMessage] = []
        self.received_at: list[float] = []  # time.time() of each message, in order
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.received_at.append(time.time())
        return "250 OK"

    def received(self) -> list[EmailMessage]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, count: int, timeout: float = 30) -> list[EmailMessage]:
        wait_until(lambda: len(self.received()) >= count, timeout, f"{count} email(s)")
        return self.received()

    def start(self) -> None:
        """Listen on the sink's port (again, after `stop`); messages received are kept."""
        if self._controller is None:
            self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
            self._controller.start()

    def stop(self) -> None:
        """Stop listening: connections to the port are refused until `start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @classmethod
    @contextlib.contextmanager
    def running(cls, port: int | None = None) -> Iterator[SmtpSink]:
        sink = cls(port or free_port())
        sink.start()
        try:
            yield sink
        finally:
            sink.stop()
