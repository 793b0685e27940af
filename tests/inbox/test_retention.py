"""relink.prune_inbox: old processed/ignored payloads are nulled in bounded batches; the row
stays so a late duplicate delivery is still recognised."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from shared.db import session_scope, utcnow
from shared.models import EventStatus, WebhookEvent
from shared.queue import make_celery
from shared.settings import get_settings
from worker.inbox import tasks


def add_event(event_id: str, status: str, age_days: float, *, processed: bool = True) -> None:
    finished = utcnow() - timedelta(days=age_days)
    with session_scope() as session:
        session.add(
            WebhookEvent(
                id=event_id,
                type="financial_connections.account.deactivated",
                livemode=False,
                created=1_767_225_600,
                payload=f'{{"id": "{event_id}"}}',
                status=status,
                received_at=finished - timedelta(seconds=5),
                processed_at=finished if processed else None,
            )
        )


def payloads() -> dict[str, str | None]:
    with session_scope() as session:
        return {row.id: row.payload for row in session.exec(select(WebhookEvent))}


def test_old_finished_payloads_are_pruned_and_the_rest_kept(db: None) -> None:
    add_event("evt_old_processed", EventStatus.PROCESSED, 31)
    add_event("evt_old_ignored", EventStatus.IGNORED, 45, processed=False)
    add_event("evt_recent_processed", EventStatus.PROCESSED, 29)
    add_event("evt_old_received", EventStatus.RECEIVED, 40, processed=False)
    add_event("evt_old_dead", EventStatus.DEAD, 40)
    add_event("evt_old_failed", EventStatus.FAILED, 40)

    assert tasks.prune_inbox() == 2

    kept = payloads()
    assert kept["evt_old_processed"] is None
    assert kept["evt_old_ignored"] is None
    # recent, unfinished, dead and failed events keep their payload (dead ones can be replayed)
    for event_id in ("evt_recent_processed", "evt_old_received", "evt_old_dead", "evt_old_failed"):
        assert kept[event_id] is not None, event_id
    assert len(kept) == 6  # every row stays


def test_each_run_prunes_one_bounded_batch(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRUNE_BATCH_SIZE", "3")
    get_settings.cache_clear()
    for n in range(7):
        add_event(f"evt_old_{n}", EventStatus.PROCESSED, 60)
    assert [tasks.prune_inbox() for _ in range(4)] == [3, 3, 1, 0]
    assert set(payloads().values()) == {None}


def test_retention_age_is_a_setting(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOX_RETENTION_DAYS", "7")
    get_settings.cache_clear()
    add_event("evt_eight_days", EventStatus.PROCESSED, 8)
    add_event("evt_six_days", EventStatus.PROCESSED, 6)
    assert tasks.prune_inbox() == 1
    assert payloads() == {"evt_eight_days": None, "evt_six_days": '{"id": "evt_six_days"}'}


def test_a_pruned_event_keeps_what_dedupe_needs(db: None) -> None:
    add_event("evt_seen_long_ago", EventStatus.PROCESSED, 90)
    tasks.prune_inbox()
    with session_scope() as session:
        row = session.get(WebhookEvent, "evt_seen_long_ago")
        assert row is not None
        assert (row.type, row.status, row.payload) == (
            "financial_connections.account.deactivated",
            EventStatus.PROCESSED,
            None,
        )


def test_prune_runs_on_the_beat_schedule() -> None:
    schedule = make_celery(get_settings()).conf.beat_schedule
    entry = next(e for e in schedule.values() if e["task"] == "relink.prune_inbox")
    assert entry["schedule"] == get_settings().prune_every_seconds == 3600
    assert tasks.prune_inbox.name == "relink.prune_inbox"
