"""The email retry backoff: keyed on the outbox row's attempts, never under half the
exponential delay, so MAX_EMAIL_ATTEMPTS spans minutes of SMTP outage (tests/faults: a
sweep-published task used to restart the backoff at ~2 s and an email failed for good
within a 60 s outage)."""

from __future__ import annotations

import random

from worker.emails.tasks import email_backoff


def test_delays_grow_with_the_rows_attempts_and_keep_half_the_exponential_delay() -> None:
    random.seed(1)
    for attempts, base in [(1, 2.0), (2, 4.0), (5, 32.0), (9, 300.0), (20, 300.0)]:
        for _ in range(200):
            delay = email_backoff(attempts)
            assert base / 2 + 1 <= delay <= base + 1


def test_eight_attempts_always_span_over_a_minute() -> None:
    random.seed(2)
    for _ in range(2000):
        assert sum(email_backoff(attempts) for attempts in range(1, 8)) > 60
