"""`relink emails resend`."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import select

from shared.db import session_scope
from shared.models import (
    EmailKind,
    EmailOutbox,
    OutboxStatus,
)
from tests.cli.conftest import (
    relink,
)


def outbox_of(case_id: int) -> list[EmailOutbox]:
    with session_scope() as session:
        return list(session.exec(select(EmailOutbox).where(EmailOutbox.case_id == case_id)))


def test_resend_queues_a_fresh_link_through_the_worker_path(cases: None, tmp_path: Any) -> None:
    queue = tmp_path / "var" / "broker" / "queue"
    queue.mkdir(parents=True, exist_ok=True)
    result = relink("emails", "resend", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["outcome"] == "queued"
    [row] = outbox_of(2)
    assert (row.kind, row.status) == (EmailKind.FRESH_LINK, OutboxStatus.PENDING)
    messages = list(queue.iterdir())  # relink.send_email(row.id): sent under the SMTP limit
    assert len(messages) == 1
    assert "relink.send_email" in messages[0].read_text()


def test_resend_respects_the_fresh_link_interval(cases: None, tmp_path: Any) -> None:
    (tmp_path / "var" / "broker" / "queue").mkdir(parents=True, exist_ok=True)
    assert relink("emails", "resend", "2").exit_code == 0
    again = relink("emails", "resend", "2")
    assert again.exit_code == 1
    assert "fresh link less than 600s ago" in again.output
    assert len(outbox_of(2)) == 1


def test_resend_refuses_a_resolved_case(cases: None) -> None:
    result = relink("emails", "resend", "3")
    assert result.exit_code == 1
    assert "case 3 is resolved" in result.output
    assert outbox_of(3) == []


def test_resend_unknown_case_exits_1(db: None) -> None:
    result = relink("emails", "resend", "404", "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["outcome"] == "missing"
