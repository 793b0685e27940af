"""SMTP sends take a token of the shared "smtp" rate limit right before delivery; a token
that does not come in time sends nothing, does not count the attempt and retries the task."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from shared import ratelimit
from shared.db import session_scope
from shared.models import EmailOutbox, OutboxStatus
from shared.queue import celery_app
from sim.testing import SimServer
from tests.emails.world import due_email, outbox_rows, simulated_stripe
from worker.emails import send
from worker.emails import tasks as email_tasks

pytestmark = pytest.mark.usefixtures("fresh_buckets")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SMTP token taken and every delivery, in order (nothing reaches a real server)."""
    seen: list[str] = []
    real_acquire = ratelimit.acquire

    def acquire(name: str, *args: Any, **kwargs: Any) -> float:
        seen.append(f"acquire:{name}")
        return real_acquire(name, *args, **kwargs)

    def deliver(message: EmailMessage, email_url: str, *, name: str) -> None:
        seen.append(f"deliver:{name}")

    monkeypatch.setattr(send, "acquire", acquire)
    monkeypatch.setattr(send, "deliver", deliver)
    return seen


def smtp_world(monkeypatch: pytest.MonkeyPatch, rate: str, scheme: str = "smtp") -> Any:
    return simulated_stripe(
        monkeypatch,
        EMAIL_URL=f"{scheme}://127.0.0.1:2525",
        SMTP_RATE_LIMIT=rate,
        QUIET_PERIOD_SECONDS="0",
    )


def two_due_emails(sim: SimServer) -> list[int]:
    return [due_email(sim, "1111"), due_email(sim, "2222")]


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
def test_each_smtp_send_takes_a_token_right_before_delivery(
    db: None, monkeypatch: pytest.MonkeyPatch, calls: list[str], scheme: str
) -> None:
    with smtp_world(monkeypatch, "1000", scheme) as sim:
        first, second = two_due_emails(sim)
        assert send.send_outbox(first) == "sent"
        assert send.send_outbox(second) == "sent"
    assert calls == [
        "acquire:smtp",
        f"deliver:relink-outbox-{first}",
        "acquire:smtp",
        f"deliver:relink-outbox-{second}",
    ]


def test_no_token_in_time_sends_nothing_and_does_not_count_the_attempt(
    db: None, monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    with smtp_world(monkeypatch, "0.01") as sim:  # one token, then the next in 100 s
        first, second = two_due_emails(sim)
        assert send.send_outbox(first) == "sent"
        with pytest.raises(send.SmtpRateLimited):
            send.send_outbox(second)
    assert calls == ["acquire:smtp", f"deliver:relink-outbox-{first}", "acquire:smtp"]
    row = next(r for r in outbox_rows() if r.id == second)
    assert (row.status, row.attempts, row.sent_at) == (OutboxStatus.SENDING, 0, None)


def test_the_task_retries_later_instead_of_failing(
    db: None, monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    retried: list[float] = []

    class Retry(Exception):
        pass

    def retry(*, exc: Exception, countdown: float) -> Exception:
        assert isinstance(exc, send.SmtpRateLimited)
        retried.append(countdown)
        return Retry()

    celery_app()  # the app whose task is patched is the one that runs it
    monkeypatch.setattr(email_tasks.send_email, "retry", retry)
    monkeypatch.setenv("MAX_EMAIL_ATTEMPTS", "1")  # a counted attempt would be the last one
    with smtp_world(monkeypatch, "0.01") as sim:
        first, second = two_due_emails(sim)
        assert email_tasks.send_email.run(first) == "sent"
        for _ in range(3):  # however often the limit holds it back, the email is not failed
            with pytest.raises(Retry):
                email_tasks.send_email.run(second)
            with session_scope() as session:
                row = session.get(EmailOutbox, second)
                assert row is not None
                assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)
                assert "rate limit 'smtp'" in (row.last_error or "")
                row.send_after = row.created_at  # due again, as when the retry runs
                session.add(row)
    assert len(retried) == 3
    assert all(countdown >= 1.0 for countdown in retried)


def test_file_and_console_transports_take_no_smtp_token(
    db: None, monkeypatch: pytest.MonkeyPatch, outbox_dir: Path, calls: list[str]
) -> None:
    with simulated_stripe(
        monkeypatch,
        EMAIL_URL=f"file://{outbox_dir}",
        SMTP_RATE_LIMIT="0.01",
        QUIET_PERIOD_SECONDS="0",
    ) as sim:
        first, second = two_due_emails(sim)
        assert send.send_outbox(first) == "sent"
        assert send.send_outbox(second) == "sent"
    assert calls == [f"deliver:relink-outbox-{first}", f"deliver:relink-outbox-{second}"]
