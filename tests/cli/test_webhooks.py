"""`relink webhooks list|show|replay|test` against a real receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from shared.db import session_scope, utcnow
from shared.platform_webhooks import endpoint as platform_endpoint
from shared.platform_webhooks.models import PlatformEvent
from shared.settings import get_settings
from tests.cli.conftest import relink
from tests.conftest import Published
from tests.platform_webhooks.receiver import SECRET, Receiver, running
from worker.platform_webhooks import service


@pytest.fixture
def receiver(db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with running() as started:
        monkeypatch.setenv("PLATFORM_WEBHOOK_URL", started.url)
        monkeypatch.setenv("PLATFORM_WEBHOOK_SECRETS", SECRET)
        get_settings.cache_clear()
        yield started


def test_test_event_is_delivered_shown_and_listed(receiver: Receiver, published: Published) -> None:
    result = relink("webhooks", "test", "--json")
    assert result.exit_code == 0, result.output
    event_id = json.loads(result.output)["id"]
    assert published == [("relink.deliver_platform_event", [event_id])]
    assert service.deliver(event_id) == "delivered"
    assert [p["type"] for p in receiver.payloads()] == ["relink.test"]

    shown = json.loads(relink("webhooks", "show", str(event_id), "--json").output)
    assert (shown["status"], shown["attempts"][0]["status_code"]) == ("delivered", 204)
    listed = json.loads(relink("webhooks", "list", "--status", "delivered", "--json").output)
    assert [row["id"] for row in listed] == [event_id]
    assert json.loads(relink("webhooks", "list", "--status", "failed", "--json").output) == []
    assert relink("webhooks", "list", "--status", "lost").exit_code == 1
    assert relink("webhooks", "show", "999").exit_code == 1


def test_replay_all_failed_queues_them_with_the_same_webhook_id(
    receiver: Receiver, published: Published
) -> None:
    receiver.script = lambda _n, _h: "500"
    event_id = service.send_test_event()
    with session_scope() as session:
        row = session.get(PlatformEvent, event_id)
        assert row is not None
        row.retrying_since = utcnow() - timedelta(days=2)
        session.add(row)
    assert service.deliver(event_id) == "failed"
    assert relink("webhooks", "replay", str(event_id + 1)).exit_code == 1
    assert relink("webhooks", "replay").exit_code == 1  # one id or --all
    published.clear()

    result = relink("webhooks", "replay", "--all", "--json")

    assert json.loads(result.output) == {"replayed": [event_id]}
    assert published == [("relink.deliver_platform_event", [event_id])]
    receiver.script = lambda _n, _h: "ok"
    assert service.deliver(event_id) == "delivered"
    assert len({d.webhook_id for d in receiver.received(None)}) == 1


def test_test_event_needs_a_platform_url(db: None) -> None:
    result = relink("webhooks", "test")
    assert result.exit_code == 1
    assert "PLATFORM_WEBHOOK_URL" in result.output


def test_status_shows_a_disabled_endpoint_and_enable_sends_its_held_deliveries(
    receiver: Receiver, published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATFORM_WEBHOOK_DISABLE_AFTER_HOURS", "1")
    get_settings.cache_clear()
    receiver.stop()
    first, second = service.send_test_event(), service.send_test_event()
    assert service.deliver(first) == "retrying"
    with session_scope() as session:
        endpoint = platform_endpoint.endpoint(session, lock=True)
        endpoint.failing_since = utcnow() - timedelta(hours=2)
        session.add(endpoint)
    assert service.deliver(second) == "held"

    shown = json.loads(relink("webhooks", "status", "--json").output)
    assert (shown["state"], shown["held"], shown["disable_after_hours"]) == ("disabled", 2, 1.0)
    assert shown["disabled_at"] is not None
    table = relink("webhooks", "status").output
    assert "disabled" in table
    assert "relink webhooks enable" in table
    listed = json.loads(relink("webhooks", "list", "--status", "held", "--json").output)
    assert sorted(row["id"] for row in listed) == [first, second]

    receiver.start()
    published.clear()
    result = relink("webhooks", "enable", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"released": [first]}  # one sequence key: in order
    assert published == [("relink.deliver_platform_event", [first])]
    assert service.deliver(first) == "delivered"
    assert service.deliver(second) == "delivered"
    assert [p["data"]["sequence"] for p in receiver.payloads()] == [1, 2]
    shown = json.loads(relink("webhooks", "status", "--json").output)
    assert (shown["state"], shown["held"], shown["failing_since"]) == ("enabled", 0, None)
    again = relink("webhooks", "enable")
    assert again.exit_code == 1
    assert "not disabled" in again.output
