"""An email that left but whose `sent` mark hit a database blip is recorded once the database
is back, not released and sent again (tests/faults: PostgreSQL cut for 5 s sent two twice)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from worker.emails import outbox


def test_a_failed_sent_mark_is_retried_until_the_database_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    @contextlib.contextmanager
    def scope() -> Iterator[None]:
        yield None

    def mark(_session: Any, _plan: Any, recipient: str) -> None:
        calls.append(recipient)
        if len(calls) < 3:
            raise OperationalError("UPDATE", {}, Exception("connection refused"))

    monkeypatch.setattr(outbox, "session_scope", scope)
    monkeypatch.setattr(outbox, "_mark_sent", mark)
    monkeypatch.setattr(outbox.time, "sleep", lambda _s: None)
    plan: Any = type("P", (), {"outbox_id": 7})()
    outbox.record_sent(plan, "ada@example.com")
    assert calls == ["ada@example.com"] * 3
