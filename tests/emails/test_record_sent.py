"""An email that left but whose `sent` mark hit a database blip is recorded once the database
is back, not released and sent again (tests/faults: PostgreSQL cut for 5 s sent two twice)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from shared import db as database
from shared.db import session_scope, utcnow
from shared.models import CaseState, EmailKind, EmailOutbox, OutboxStatus, RelinkCase
from worker.emails import send
from worker.emails.contacts import Recipient


def test_a_failed_sent_mark_is_retried_until_the_database_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    @contextlib.contextmanager
    def scope() -> Iterator[None]:
        yield None

    def mark(_session: Any, _plan: Any, recipient: Recipient) -> None:
        calls.append(recipient)
        if len(calls) < 3:
            raise OperationalError("UPDATE", {}, Exception("connection refused"))

    monkeypatch.setattr(send, "session_scope", scope)
    monkeypatch.setattr(send, "_mark_sent", mark)
    monkeypatch.setattr(database.time, "sleep", lambda _s: None)
    plan: Any = type("P", (), {"outbox_id": 7})()
    ada = Recipient("ada@example.com", "en")
    send.record_sent(plan, ada)
    assert calls == [ada] * 3


def test_a_sent_mark_committed_before_the_connection_dropped_counts_once(db: None) -> None:
    """The commit reached PostgreSQL but its acknowledgement did not: the retry must find the
    row sent and change nothing (the fault suite saw a case with emails_sent = 2)."""
    now = utcnow()
    with session_scope() as session:
        case = RelinkCase(
            authorization_id="fcauth_1",
            account_id="fca_1",
            state=CaseState.OPEN,
            cause="access_expired",
            action="relink_required",
            opened_at=now,
            last_heard_at=now,
        )
        session.add(case)
        session.flush()
        assert case.id is not None
        row = EmailOutbox(case_id=case.id, kind=EmailKind.RELINK, send_after=now, message_id="m-1")
        session.add(row)
        session.flush()
        assert row.id is not None
        plan: Any = type(
            "P", (), {"outbox_id": row.id, "case_id": case.id, "kind": EmailKind.FRESH_LINK}
        )()
    for _ in range(2):
        with session_scope() as session:
            send._mark_sent(session, plan, Recipient("ada@example.com", "es"))
    with session_scope() as session:
        stored = session.get(RelinkCase, plan.case_id)
        sent = session.get(EmailOutbox, plan.outbox_id)
        assert stored is not None
        assert sent is not None
        assert (stored.emails_sent, sent.status) == (1, OutboxStatus.SENT)
        assert stored.locale == "es"  # the page speaks the email's language
