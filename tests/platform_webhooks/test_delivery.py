"""Delivering platform events to a real HTTP receiver: signed for every secret, the same
webhook id on every retry, no redirect followed, timeouts and resets are failed attempts,
backoff until the window closes, then `failed` and replayable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlmodel import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared import delivery
from shared.db import session_scope, utcnow
from shared.events.catalog import DELIVER_PLATFORM_EVENT
from shared.platform_webhooks import events, payloads
from shared.platform_webhooks.models import PlatformAttempt, PlatformEvent
from shared.settings import get_settings
from tests.conftest import Published
from tests.platform_webhooks.receiver import OLD_SECRET, SECRET, WRONG_SECRET, Receiver
from worker.platform_webhooks import repository, service

HELLO = {"hello": "relink"}


def write_event(key: str = "test") -> int:
    with session_scope() as session:
        row = events.record(session, payloads.TEST, key, HELLO)
        assert row is not None
        assert row.id is not None
        return row.id


def row_of(event_id: int) -> PlatformEvent:
    with session_scope() as session:
        row = session.get(PlatformEvent, event_id)
        assert row is not None
        session.expunge(row)
        return row


def attempts(event_id: int) -> list[PlatformAttempt]:
    with session_scope() as session:
        rows = list(
            session.exec(select(PlatformAttempt).where(PlatformAttempt.event_id == event_id))
        )
        for row in rows:
            session.expunge(row)
        return rows


def make_due(event_id: int) -> None:
    with session_scope() as session:
        row = session.get(PlatformEvent, event_id)
        assert row is not None
        row.next_attempt_at = utcnow()
        session.add(row)


def test_a_delivery_verifies_with_each_secret_and_not_with_a_wrong_one(
    receiver: Receiver, published: Published
) -> None:
    event_id = write_event()
    assert published == [(DELIVER_PLATFORM_EVENT, [event_id])]

    assert service.deliver(event_id) == "delivered"

    [delivery] = receiver.received()
    payload = delivery.verified(SECRET)
    assert payload["type"] == "relink.test"
    assert payload["data"] == {"sequence": 1, "hello": "relink"}
    assert delivery.verified(OLD_SECRET) == payload  # both secrets sign during a rotation
    assert len(delivery.headers["webhook-signature"].split(" ")) == 2
    with pytest.raises(WebhookVerificationError):
        Webhook(WRONG_SECRET).verify(delivery.body, delivery.headers)
    tampered = delivery.body.replace(b'"hello":"relink"', b'"hello":"attacker"')
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(tampered, delivery.headers)
    row = row_of(event_id)
    assert (row.status, row.attempts, delivery.webhook_id) == ("delivered", 1, row.webhook_id)
    assert [a.status_code for a in attempts(event_id)] == [204]


def test_a_500_is_retried_later_with_the_same_webhook_id_and_body_and_a_new_signature(
    receiver: Receiver, published: Published
) -> None:
    receiver.script = lambda n, _h: "500" if n < 2 else "ok"
    event_id = write_event()
    published.clear()

    assert service.deliver(event_id) == "retrying"
    row = row_of(event_id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")
    settings = get_settings()
    delay = (row.next_attempt_at - utcnow()).total_seconds()
    assert settings.platform_webhook_retry_base_seconds / 2 - 1 < delay
    assert delay <= settings.platform_webhook_retry_base_seconds
    [(task, args)] = published
    assert (task, args) == (DELIVER_PLATFORM_EVENT, [event_id])
    assert service.deliver(event_id) == "skipped"  # not due yet

    make_due(event_id)
    assert service.deliver(event_id) == "retrying"
    make_due(event_id)
    assert service.deliver(event_id) == "delivered"

    sent = receiver.received(None)
    assert [d.answer for d in sent] == ["500", "500", "ok"]
    assert {d.webhook_id for d in sent} == {row.webhook_id}
    assert {d.body for d in sent} == {sent[0].body}
    assert all(d.verified() for d in sent)
    assert [a.status_code for a in attempts(event_id)] == [500, 500, 204]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("redirect", "redirect 307 not followed"),
        ("stall", "timeout"),
        ("reset", "ConnectionError"),
    ],
)
def test_redirects_timeouts_and_resets_are_failed_attempts(
    receiver: Receiver, published: Published, answer: str, error: str
) -> None:
    receiver.script = lambda _n, _h: answer
    receiver.stall_seconds = 2.0
    event_id = write_event()

    assert service.deliver(event_id) == "retrying"

    assert [d.path for d in receiver.received(None)] == ["/hooks"]  # /elsewhere never asked
    [attempt] = attempts(event_id)
    assert (attempt.status_code is None) == (answer != "redirect")
    assert attempt.error == error
    assert row_of(event_id).status == "pending"


def test_an_endpoint_that_is_down_is_a_failed_attempt(receiver: Receiver) -> None:
    receiver.stop()
    event_id = write_event()
    assert service.deliver(event_id) == "retrying"
    assert [a.error for a in attempts(event_id)] == ["ConnectionError"]


def test_after_the_retry_window_it_is_failed_and_a_replay_delivers_it(
    receiver: Receiver, published: Published
) -> None:
    receiver.script = lambda n, _h: "500" if n == 0 else "ok"
    event_id = write_event()
    window = get_settings().platform_webhook_retry_window_seconds
    assert window >= 24 * 3600
    with session_scope() as session:
        row = session.get(PlatformEvent, event_id)
        assert row is not None
        row.retrying_since = utcnow() - timedelta(seconds=window)
        session.add(row)

    assert service.deliver(event_id) == "failed"
    assert row_of(event_id).status == "failed"
    with session_scope() as session:
        assert repository.due_event_ids(session, now=utcnow(), settings=get_settings()) == []
        assert repository.replay(session, event_id=None, now=utcnow()) == [event_id]

    assert service.deliver(event_id) == "delivered"
    [first, second] = receiver.received(None)
    assert first.webhook_id == second.webhook_id
    assert row_of(event_id).attempts == 2


def test_the_retries_span_more_than_a_day_before_failing() -> None:
    settings = get_settings()
    total, attempts_made = 0.0, 0
    while total < settings.platform_webhook_retry_window_seconds:
        attempts_made += 1
        delay = delivery.backoff(
            attempts_made,
            base=settings.platform_webhook_retry_base_seconds,
            cap=settings.platform_webhook_retry_cap_seconds,
        )
        base = settings.platform_webhook_retry_base_seconds * 2 ** (attempts_made - 1)
        assert min(base, settings.platform_webhook_retry_cap_seconds) / 2 <= delay
        total += delay
    assert total >= 24 * 3600
    assert 10 < attempts_made < 60


def test_no_more_than_max_in_flight_are_claimed(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATFORM_WEBHOOK_MAX_IN_FLIGHT", "2")
    get_settings.cache_clear()
    settings = get_settings()
    ids = [write_event() for _ in range(3)]
    now = utcnow()
    with session_scope() as session:
        claimed = [repository.claim(session, i, now=now, settings=settings) for i in ids]
    assert [isinstance(c, PlatformEvent) for c in claimed] == [True, True, False]
    assert claimed[2] == repository.BUSY
    assert service.deliver(ids[2]) == repository.BUSY
    assert receiver.received(None) == []
    # a claim a dead worker left behind is taken again once stale
    later = now + repository.claim_timeout(settings) + timedelta(seconds=1)
    with session_scope() as session:
        assert repository.due_event_ids(session, now=later, settings=settings) == sorted(ids)
        assert isinstance(
            repository.claim(session, ids[0], now=later, settings=settings), PlatformEvent
        )


def test_sequence_numbers_are_per_key_and_a_rollback_gives_its_number_back(
    receiver: Receiver,
) -> None:
    write_event("case:1")
    write_event("case:1")
    write_event("case:2")
    with session_scope() as session:
        events.record(session, payloads.TEST, "case:1", HELLO)
        session.rollback()  # the change that caused it failed
    write_event("case:1")
    with session_scope() as session:
        rows = session.exec(select(PlatformEvent.sequence_key, PlatformEvent.sequence)).all()
    assert sorted(rows) == [("case:1", 1), ("case:1", 2), ("case:1", 3), ("case:2", 1)]


def test_nothing_is_written_without_a_platform_url(db: None, published: Published) -> None:
    with session_scope() as session:
        assert events.record(session, payloads.TEST, "test", HELLO) is None
    with session_scope() as session:
        assert session.exec(select(PlatformEvent)).all() == []
    assert published == []


@pytest.mark.parametrize("data", [{}, {"hello": "relink", "n": 1}, {"hello": 1}])
def test_a_payload_its_model_refuses_writes_nothing(
    receiver: Receiver, data: dict[str, object]
) -> None:
    with session_scope() as session, pytest.raises(ValidationError):
        events.record(session, payloads.TEST, "test", data)
    with session_scope() as session:
        assert session.exec(select(PlatformEvent)).all() == []
