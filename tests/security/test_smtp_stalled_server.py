"""SMTP vs a server that accepts the connection and never answers: the send gives up after
EMAIL_TIMEOUT_SECONDS with a TransportError instead of holding the worker."""

from __future__ import annotations

import socket
import time

import pytest

from tests.security.smtp_servers import a_message, use_settings
from worker.emails.transport import TransportError, deliver


def test_a_silent_server_times_out_after_email_timeout_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_settings(monkeypatch, EMAIL_TIMEOUT_SECONDS="0.5")
    with socket.socket() as listener:  # connections queue in the backlog, no greeting ever
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(TransportError) as raised:
            deliver(a_message(), f"smtp://127.0.0.1:{port}", name="relink-outbox-1")
        elapsed = time.monotonic() - started
    assert elapsed < 5
    assert "EMAIL_URL" in str(raised.value)
