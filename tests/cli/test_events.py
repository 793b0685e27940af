"""`relink events list|show|replay`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.models import (
    EventStatus,
)
from tests.cli.conftest import (
    DEACTIVATED,
    REACTIVATED,
    add_event,
    relink,
    stored,
)


def test_list_shows_a_table_newest_first(inbox: None) -> None:
    result = relink("events", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "TYPE", "STATUS", "ATTEMPTS", "RECEIVED", "LAST", "ERROR"]
    ids = [line.split()[0] for line in lines[2:]]
    assert ids == ["evt_other", "evt_reactivated", "evt_done", "evt_dead_2", "evt_dead_1"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--status", "dead"], ["evt_dead_2", "evt_dead_1"]),
        (["--status", "ignored"], ["evt_other"]),
        (["--type", REACTIVATED], ["evt_reactivated"]),
        (["--status", "processed", "--type", DEACTIVATED], ["evt_done"]),
        (["--limit", "2"], ["evt_other", "evt_reactivated"]),
        (["--status", "failed"], []),
    ],
)
def test_list_filters_as_json(inbox: None, args: list[str], expected: list[str]) -> None:
    result = relink("events", "list", *args, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["id"] for row in rows] == expected


def test_list_refuses_an_unknown_status(inbox: None) -> None:
    result = relink("events", "list", "--status", "lost")
    assert result.exit_code == 2


def test_list_says_so_when_nothing_matches(db: None) -> None:
    result = relink("events", "list")
    assert (result.exit_code, result.output.strip()) == (0, "no events")


def test_show_prints_fields_and_payload(inbox: None) -> None:
    result = relink("events", "show", "evt_dead_1")
    assert result.exit_code == 0, result.output
    assert "evt_dead_1" in result.output
    assert "APIError: boom" in result.output
    assert '"object": "event"' in result.output
    detail = json.loads(relink("events", "show", "evt_dead_1", "--json").output)
    assert detail["status"] == "dead"
    assert detail["payload"] == {"id": "evt_dead_1", "object": "event"}


def test_show_says_when_retention_pruned_the_payload(db: None) -> None:
    add_event("evt_pruned", payload=None)
    result = relink("events", "show", "evt_pruned")
    assert result.exit_code == 0
    assert "payload: pruned" in result.output


def test_show_unknown_event_exits_1(db: None) -> None:
    result = relink("events", "show", "evt_nope")
    assert result.exit_code == 1
    assert "no event evt_nope" in result.output


# ---------------------------------------------------------------- events replay


def test_replay_a_dead_event_resets_and_queues_it(inbox: None, queued: list[str]) -> None:
    result = relink("events", "replay", "evt_dead_1")
    assert result.exit_code == 0, result.output
    assert "queued" in result.output
    row = stored("evt_dead_1")
    assert (row.status, row.processed_at) == (EventStatus.RECEIVED, None)
    assert row.enqueued_at is not None
    assert queued == ["evt_dead_1"]


def test_replay_is_idempotent(inbox: None, queued: list[str]) -> None:
    assert relink("events", "replay", "evt_dead_1").exit_code == 0
    assert relink("events", "replay", "evt_dead_1").exit_code == 0
    # a still-received event is simply queued again; process_event runs it once
    assert stored("evt_dead_1").status == EventStatus.RECEIVED
    assert queued == ["evt_dead_1", "evt_dead_1"]


def test_replaying_a_processed_event_needs_force(inbox: None, queued: list[str]) -> None:
    refused = relink("events", "replay", "evt_done")
    assert refused.exit_code == 1
    assert "--force" in refused.output
    assert stored("evt_done").status == EventStatus.PROCESSED
    assert queued == []
    forced = relink("events", "replay", "evt_done", "--force", "--json")
    assert forced.exit_code == 0
    assert json.loads(forced.output) == [
        {
            "id": "evt_done",
            "outcome": "queued",
            "detail": "was processed",
            "previous_status": "processed",
        }
    ]
    assert stored("evt_done").status == EventStatus.RECEIVED
    assert queued == ["evt_done"]


def test_a_pruned_event_cannot_be_replayed(db: None, queued: list[str]) -> None:
    add_event("evt_pruned", EventStatus.PROCESSED, payload=None)
    result = relink("events", "replay", "evt_pruned", "--force")
    assert result.exit_code == 1
    assert "pruned" in result.output
    assert queued == []


def test_replay_all_dead_touches_only_dead_events(inbox: None, queued: list[str]) -> None:
    result = relink("events", "replay", "--all-dead", "--json")
    assert result.exit_code == 0, result.output
    assert [o["id"] for o in json.loads(result.output)] == ["evt_dead_1", "evt_dead_2"]
    assert queued == ["evt_dead_1", "evt_dead_2"]
    assert stored("evt_done").status == EventStatus.PROCESSED
    again = relink("events", "replay", "--all-dead")  # nothing dead any more
    assert (again.exit_code, again.output.strip()) == (0, "no dead events")


def test_replay_with_the_broker_down_leaves_it_to_the_redrive(
    inbox: None, broker_down: None
) -> None:
    result = relink("events", "replay", "evt_dead_1", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)[0]["outcome"] == "stored"
    row = stored("evt_dead_1")
    assert (row.status, row.enqueued_at) == (EventStatus.RECEIVED, None)  # redrive's to pick


@pytest.mark.parametrize("args", [[], ["evt_dead_1", "--all-dead"]])
def test_replay_needs_exactly_one_target(inbox: None, queued: list[str], args: list[str]) -> None:
    result = relink("events", "replay", *args)
    assert result.exit_code == 1
    assert queued == []


def test_replay_unknown_event_exits_1(db: None, queued: list[str]) -> None:
    assert relink("events", "replay", "evt_nope").exit_code == 1


def test_replay_really_publishes_to_the_broker(inbox: None, tmp_path: Any) -> None:
    # the embedded filesystem broker (its folder is relative to the working directory, made
    # when the Celery app was first built): one message lands in var/broker/queue
    queue = tmp_path / "var" / "broker" / "queue"
    queue.mkdir(parents=True, exist_ok=True)
    result = relink("events", "replay", "evt_dead_1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["outcome"] == "queued"
    messages = list(queue.iterdir())
    assert len(messages) == 1
    assert "evt_dead_1" in messages[0].read_text()
