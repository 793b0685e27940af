"""The delivery toolkit every outbox uses: a claim is a lease, a stale one is claimed again,
a released row is due after its backoff or failed, the sweep finds what is due. The backoff is
keyed on the row's attempts and never under half the exponential delay, so MAX_EMAIL_ATTEMPTS
spans minutes of SMTP outage (tests/faults: a sweep-published task used to restart the
backoff at ~2 s and an email failed for good within a 60 s outage)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from shared import delivery
from shared.db import session_scope, utcnow
from shared.delivery import DeliveryStatus
from shared.models import EMAILS, EmailKind, EmailOutbox
from shared.payments.switch_models import SWITCHES, PaymentMethodSwitch
from shared.platform_webhooks.models import EVENT_STATUSES

LEASE = timedelta(minutes=5)

pytestmark = pytest.mark.usefixtures("db")


def write_email(key: str = "a", *, due_in: timedelta = timedelta(0)) -> int:
    with session_scope() as session:
        row = EmailOutbox(kind=EmailKind.RELINK, message_id=key, send_after=utcnow() + due_in)
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def claim(row_id: int, *, now: datetime, max_attempts: int | None = None) -> EmailOutbox | None:
    """Claim in its own transaction."""
    with session_scope() as session:
        row = delivery.lock_claimable(
            session, EMAILS, row_id, now=now, lease=LEASE, max_attempts=max_attempts
        )
        return delivery.take(session, row, now=now) if row is not None else None


def test_delays_grow_with_the_attempts_and_keep_half_the_exponential_delay() -> None:
    random.seed(1)
    for attempts, base in [(1, 2.0), (2, 4.0), (5, 32.0), (9, 300.0), (20, 300.0)]:
        for _ in range(200):
            assert base / 2 <= delivery.backoff(attempts) <= base
    assert all(5 <= delivery.backoff(1, base=10, cap=60) <= 10 for _ in range(50))
    assert all(30 <= delivery.backoff(9, base=10, cap=60) <= 60 for _ in range(50))


def test_eight_attempts_always_span_over_a_minute() -> None:
    random.seed(2)
    for _ in range(2000):
        assert sum(delivery.backoff(attempts) for attempts in range(1, 8)) > 60


def test_a_claim_is_a_lease_and_a_stale_one_is_claimed_again() -> None:
    row_id = write_email()
    now = utcnow()
    row = claim(row_id, now=now)
    assert row is not None
    assert (row.status, row.attempts, row.claimed_at) == (DeliveryStatus.SENDING, 1, now)
    assert claim(row_id, now=now + LEASE / 2) is None
    with session_scope() as session:
        assert delivery.due_ids(session, EMAILS, now=now + LEASE / 2, lease=LEASE) == []
        assert delivery.due_ids(session, EMAILS, now=now + LEASE, lease=LEASE) == [row_id]
    again = claim(row_id, now=now + LEASE)
    assert again is not None
    assert again.attempts == 2
    assert claim(row_id, now=now + 3 * LEASE, max_attempts=2) is None


def test_a_released_row_is_due_after_its_delay_or_failed_when_no_try_is_left() -> None:
    retried, failed = write_email("retried"), write_email("failed")
    now = utcnow()
    for row_id, retry_in in [(retried, 60.0), (failed, None)]:
        assert claim(row_id, now=now) is not None
        with session_scope() as session:
            row = session.get(EmailOutbox, row_id)
            assert row is not None
            final = delivery.release(
                session, EMAILS, row, now=now, retry_in=retry_in, error="TimeoutError"
            )
            assert final is (retry_in is None)
    with session_scope() as session:
        back = session.get(EmailOutbox, retried)
        gone = session.get(EmailOutbox, failed)
        assert back is not None
        assert gone is not None
        assert (back.status, back.send_after, back.last_error) == (
            DeliveryStatus.PENDING,
            now + timedelta(seconds=60),
            "TimeoutError",
        )
        assert gone.status == DeliveryStatus.FAILED
        assert delivery.due_ids(session, EMAILS, now=now + timedelta(seconds=59), lease=LEASE) == []
        assert delivery.due_ids(session, EMAILS, now=now + timedelta(seconds=60), lease=LEASE) == [
            retried
        ]


def test_a_stale_claim_that_used_every_try_is_failed_by_the_sweep() -> None:
    row_id = write_email()
    now = utcnow()
    assert claim(row_id, now=now) is not None
    with session_scope() as session:
        delivery.fail_exhausted(session, EMAILS, now=now + LEASE, lease=LEASE, max_attempts=1)
    with session_scope() as session:
        row = session.get(EmailOutbox, row_id)
        assert row is not None
        assert (row.status, row.last_error) == (
            DeliveryStatus.FAILED,
            "claimed too often without finishing",
        )


def test_without_a_lease_only_pending_rows_are_due() -> None:
    """The payment switch's claim is its row lock: a pending row is the sweep's once old."""
    with session_scope() as session:
        session.add(PaymentMethodSwitch(case_id=1, payment_method_id="pm_1", status="sending"))
        session.add(PaymentMethodSwitch(case_id=1, payment_method_id="pm_2"))
    later = utcnow() + timedelta(hours=1)
    with session_scope() as session:
        assert delivery.due_ids(session, SWITCHES, now=later, lease=None) == [2]


def test_the_platform_events_statuses_are_delivery_statuses() -> None:
    assert set(EVENT_STATUSES) <= set(DeliveryStatus)
