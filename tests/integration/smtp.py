"""A real SMTP sink on a free port (aiosmtpd), keeping every message for assertions."""

from __future__ import annotations

import contextlib
import email
import email.policy
import threading
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
        self._lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def received(self) -> list[EmailMessage]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, count: int, timeout: float = 30) -> list[EmailMessage]:
        wait_until(lambda: len(self.received()) >= count, timeout, f"{count} email(s)")
        return self.received()

    @classmethod
    @contextlib.contextmanager
    def running(cls, port: int | None = None) -> Iterator[SmtpSink]:
        sink = cls(port or free_port())
        controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
        controller.start()
        try:
            yield sink
        finally:
            controller.stop()
