"""Webhook operations (issue 24): each attempt keeps its status code, duration and the first
KiB of the answer; an endpoint failing for PLATFORM_WEBHOOK_DISABLE_AFTER_HOURS is disabled,
its deliveries held (never attempted, never dropped) until an operator enables it; then the
held ones go out in order per sequence key. Redelivery queues an event again, once per press."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from shared.db import session_scope, utcnow
from shared.events.catalog import DELIVER_PLATFORM_EVENT
from shared.platform_webhooks import endpoint as platform_endpoint
from shared.platform_webhooks.models import PlatformEndpoint, PlatformEvent
from shared.settings import get_settings
from tests.conftest import Published
from tests.platform_webhooks.receiver import Receiver
from tests.platform_webhooks.test_delivery import attempts, make_due, row_of, write_event
from worker.platform_webhooks import service, tasks

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("failing_for", "after_hours", "disabled"),
    [
        (None, 72.0, False),  # not failing
        (timedelta(hours=71, minutes=59), 72.0, False),
        (timedelta(hours=72), 72.0, True),
        (timedelta(days=30), 72.0, True),
        (timedelta(days=30), 0.0, False),  # 0: never
        (timedelta(seconds=4), 0.001, True),  # fractional hours: 3.6 s
        (timedelta(seconds=3), 0.001, False),
    ],
)
def test_the_disable_rule(
    failing_for: timedelta | None, after_hours: float, disabled: bool
) -> None:
    since = None if failing_for is None else NOW - failing_for
    assert platform_endpoint.should_disable(since, NOW, after_hours) is disabled


def test_an_attempt_keeps_its_status_duration_and_the_first_kib_of_the_answer(
    receiver: Receiver,
) -> None:
    receiver.script = lambda n, _h: "500" if n == 0 else "ok"
    secret_looking = b"whsec_platform_private_answer"
    receiver.answer_body = secret_looking + b"\x00\xff" + b"x" * 4000
    event_id = write_event()

    with capture_logs() as logs:
        assert service.deliver(event_id) == "retrying"
        make_due(event_id)
        assert service.deliver(event_id) == "delivered"

    first, second = attempts(event_id)
    assert (first.status_code, first.error, second.status_code) == (500, "HTTP 500", 204)
    assert first.duration_ms >= 0
    assert first.response_body is not None
    assert first.response_body.startswith("whsec_platform_private_answer\ufffd\ufffd")
    assert first.response_body.count("x") == 1024 - len(secret_looking) - 2
    assert second.response_body == ""  # a 204 has no body
    assert not any("whsec_platform" in repr(entry) for entry in logs)


def test_no_answer_keeps_no_body(receiver: Receiver) -> None:
    receiver.stop()
    event_id = write_event()
    assert service.deliver(event_id) == "retrying"
    [attempt] = attempts(event_id)
    assert (attempt.status_code, attempt.response_body) == (None, None)


def _failing_since(moment: datetime) -> None:
    with session_scope() as session:
        row = platform_endpoint.endpoint(session, lock=True)
        row.failing_since = moment
        session.add(row)


def _endpoint() -> PlatformEndpoint:
    with session_scope() as session:
        row = platform_endpoint.endpoint(session)
        session.expunge(row)
        return row


def _disable(monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> list[int]:
    """Two cases' events; the endpoint down past DISABLE_AFTER: disabled, all held."""
    monkeypatch.setenv("PLATFORM_WEBHOOK_DISABLE_AFTER_HOURS", "1")
    get_settings.cache_clear()
    receiver.stop()
    ids = [write_event("case:1"), write_event("case:2"), write_event("case:1")]
    assert service.deliver(ids[0]) == "retrying"
    assert _endpoint().disabled_at is None
    _failing_since(utcnow() - timedelta(hours=1))
    make_due(ids[0])
    assert service.deliver(ids[0]) == "held"
    return ids


def test_an_endpoint_failing_past_the_limit_is_disabled_and_holds_every_delivery(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver, published: Published
) -> None:
    ids = _disable(monkeypatch, receiver)

    assert _endpoint().disabled_at is not None
    assert [row_of(i).status for i in ids] == ["held", "held", "held"]
    receiver.start()
    later = write_event("case:3")
    assert service.deliver(later) == "held"  # written while disabled: never attempted
    for event_id in ids:
        make_due(event_id)
        assert service.deliver(event_id) == "skipped"
    assert receiver.received(None) == []
    assert tasks.sweep_platform_events() == 0
    with session_scope() as session:
        status = platform_endpoint.status(session)
    assert (status.disabled, status.held) == (True, 4)
    assert [a.error for a in attempts(ids[0])] == ["ConnectionError", "ConnectionError"]


def test_failures_within_the_limit_or_with_zero_never_disable(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    monkeypatch.setenv("PLATFORM_WEBHOOK_DISABLE_AFTER_HOURS", "0")
    get_settings.cache_clear()
    receiver.stop()
    event_id = write_event()
    _failing_since(utcnow() - timedelta(days=365))
    assert service.deliver(event_id) == "retrying"
    assert _endpoint().disabled_at is None


def test_a_success_clears_failing_since(receiver: Receiver) -> None:
    receiver.script = lambda n, _h: "500" if n == 0 else "ok"
    event_id = write_event()
    assert service.deliver(event_id) == "retrying"
    assert _endpoint().failing_since is not None
    make_due(event_id)
    assert service.deliver(event_id) == "delivered"
    endpoint = _endpoint()
    assert (endpoint.failing_since, endpoint.last_delivered_at is not None) == (None, True)


def test_enabling_sends_the_held_deliveries_in_order_per_key(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver, published: Published
) -> None:
    first, other, second = _disable(monkeypatch, receiver)
    receiver.start()
    published.clear()

    with session_scope() as session:
        released = platform_endpoint.enable(session, now=utcnow())
    assert released == [first, other]  # the first of each key; case:1's second waits
    assert published == [(DELIVER_PLATFORM_EVENT, [first]), (DELIVER_PLATFORM_EVENT, [other])]
    assert row_of(second).status == "held"
    endpoint = _endpoint()
    assert (endpoint.disabled_at, endpoint.failing_since) == (None, None)

    published.clear()
    assert service.deliver(other) == "delivered"
    assert published == []  # case:2 has nothing more
    assert service.deliver(first) == "delivered"
    assert published == [(DELIVER_PLATFORM_EVENT, [second])]
    assert service.deliver(second) == "delivered"
    sequences = [(d.verified()["data"]["sequence"], d.webhook_id) for d in receiver.received()]
    assert sequences == [
        (1, row_of(other).webhook_id),
        (1, row_of(first).webhook_id),
        (2, row_of(second).webhook_id),
    ]
    with session_scope() as session:
        assert platform_endpoint.enable(session, now=utcnow()) is None  # not disabled


def test_a_new_event_waits_behind_its_keys_held_ones(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver, published: Published
) -> None:
    first, _other, second = _disable(monkeypatch, receiver)
    receiver.start()
    with session_scope() as session:
        platform_endpoint.enable(session, now=utcnow())
    third = write_event("case:1")

    assert service.deliver(third) == "held"  # case:1's second is still held
    assert service.deliver(first) == "delivered"
    assert service.deliver(second) == "delivered"
    assert service.deliver(third) == "delivered"
    case_1 = [d.verified()["data"]["sequence"] for d in receiver.received()]
    assert case_1 == [1, 2, 3]


def test_a_held_event_whose_successor_is_lost_is_released_by_the_sweep(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver, published: Published
) -> None:
    first, other, second = _disable(monkeypatch, receiver)
    receiver.start()
    with session_scope() as session:
        platform_endpoint.enable(session, now=utcnow())
        for event_id in (first, other):  # as if both had been delivered by another path
            row = session.get(PlatformEvent, event_id)
            assert row is not None
            row.status = "delivered"
            session.add(row)
    published.clear()

    tasks.sweep_platform_events()

    assert (DELIVER_PLATFORM_EVENT, [second]) in published
    assert row_of(second).status == "pending"


def test_redeliver_queues_the_same_webhook_id_once_per_press_window(
    receiver: Receiver, published: Published
) -> None:
    event_id = write_event()
    assert service.deliver(event_id) == "delivered"
    published.clear()
    now = utcnow()

    with session_scope() as session:
        assert isinstance(platform_endpoint.redeliver(session, event_id, now=now), PlatformEvent)
    with session_scope() as session:  # pressed again: already queued
        assert isinstance(platform_endpoint.redeliver(session, event_id, now=now), PlatformEvent)
    assert published == [(DELIVER_PLATFORM_EVENT, [event_id])]
    assert service.deliver(event_id) == "delivered"
    with session_scope() as session:  # delivered again, still within the window: nothing
        platform_endpoint.redeliver(session, event_id, now=now + timedelta(seconds=59))
    assert row_of(event_id).status == "delivered"
    with session_scope() as session:
        platform_endpoint.redeliver(session, event_id, now=now + timedelta(seconds=61))
    assert row_of(event_id).status == "pending"
    first, second = receiver.received()
    assert first.webhook_id == second.webhook_id
    assert first.body == second.body
    with session_scope() as session:
        assert platform_endpoint.redeliver(session, 999_999, now=now) is None
