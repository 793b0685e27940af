"""process_event: exactly once in effect, newest snapshot wins, failures end in a final state."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
import stripe
from sqlalchemy import update

from shared.db import session_scope, utcnow
from shared.events.inbox import EventHeader, InboxItem, record_events
from shared.models import FcAccount, FcAuthorization, WebhookEvent
from tests.factories import event, fc_account
from worker import errors
from worker.inbox import handlers, tasks
from worker.inbox import service as processing


def store(evt: dict) -> str:  # type: ignore[type-arg]
    header = EventHeader(
        evt["id"], evt["type"], evt["created"], evt["livemode"], evt.get("api_version"), None
    )
    item = InboxItem(header, orjson.dumps(evt).decode(), handled=evt["type"] in handlers.HANDLERS)
    with session_scope() as session:
        record_events(session, [item], stale_after=timedelta(minutes=2))
    return evt["id"]


def stored(event_id: str) -> WebhookEvent:
    with session_scope() as session:
        row = session.get(WebhookEvent, event_id)
        assert row is not None
        return row


def account_row(account_id: str) -> FcAccount:
    with session_scope() as session:
        row = session.get(FcAccount, (account_id, ""))
        assert row is not None
        return row


def test_record_events_inserts_once_and_queues_once(db: None) -> None:
    evt = event()
    item = InboxItem(
        EventHeader(evt["id"], evt["type"], evt["created"], False, None, None), "{}", True
    )
    with session_scope() as session:
        first = record_events(session, [item, item], stale_after=timedelta(1))
        second = record_events(session, [item], stale_after=timedelta(1))
    assert (first, second) == ({evt["id"]}, set())


def test_processing_twice_has_the_effect_of_once(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = handlers.HANDLERS["financial_connections.account.deactivated"]

    def counting(session, evt):  # type: ignore[no-untyped-def]
        calls.append(evt["id"])
        original(session, evt)

    monkeypatch.setitem(handlers.HANDLERS, "financial_connections.account.deactivated", counting)
    event_id = store(event())
    assert processing.process_one(event_id) == "processed"
    assert processing.process_one(event_id) == "processed"
    assert calls == [event_id]
    row = stored(event_id)
    assert row.attempts == 1
    assert row.processed_at is not None


def test_deactivation_stores_the_account_and_its_authorization(db: None) -> None:
    account = fc_account(last4="4321")
    evt = event(obj=account)
    processing.process_one(store(evt))
    row = account_row(account["id"])
    assert (row.status, row.inactive_cause, row.inactive_action, row.last4) == (
        "inactive",
        "access_expired",
        "relink_required",
        "4321",
    )
    assert (row.holder_type, row.holder_id, row.state_at) == (
        "customer",
        "cus_Test0001",
        evt["created"],
    )
    with session_scope() as session:
        assert session.get(FcAuthorization, ("fcauth_Test0001", "")) is not None


def test_an_older_snapshot_arriving_late_changes_nothing(db: None) -> None:
    account = fc_account()
    newer = event(
        "financial_connections.account.created",
        obj={**account, "status": "active", "status_details": {}},
        created=2000,
    )
    older = event(obj=account, created=1000)
    processing.process_one(store(newer))
    processing.process_one(store(older))
    assert account_row(account["id"]).status == "active"
    assert stored(older["id"]).status == "processed"


def test_same_second_snapshots_are_ordered_by_event_id(db: None) -> None:
    account = fc_account()
    first = event(obj=account, created=1000, id="evt_A")
    second = event(
        "financial_connections.account.created",
        obj={**account, "status": "active"},
        created=1000,
        id="evt_B",
    )
    for evt in (second, first):
        processing.process_one(store(evt))
    assert account_row(account["id"]).status == "active"


def test_bad_payload_fails_permanently_without_retry(db: None) -> None:
    event_id = store(event(obj={"id": "cus_1", "object": "customer"}))
    assert tasks.process_event(event_id) == "failed"
    row = stored(event_id)
    assert row.status == "failed"
    assert "financial_connections.account" in (row.last_error or "")


def test_transient_error_on_the_last_attempt_is_dead(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_EVENT_ATTEMPTS", "1")
    from shared.settings import get_settings

    get_settings.cache_clear()

    def stripe_down(_session, _evt):  # type: ignore[no-untyped-def]
        raise stripe.APIConnectionError("connection refused")

    monkeypatch.setitem(handlers.HANDLERS, "financial_connections.account.deactivated", stripe_down)
    event_id = store(event())
    assert tasks.process_event(event_id) == "dead"
    row = stored(event_id)
    assert row.status == "dead"
    assert "APIConnectionError" in (row.last_error or "")
    assert row.attempts == 1


def test_transient_error_is_retried_with_the_effects_rolled_back(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = fc_account()

    def half_done_then_db_gone(session, evt):  # type: ignore[no-untyped-def]
        handlers.on_account_created(session, evt)
        raise stripe.APIError("500 from Stripe")

    monkeypatch.setitem(
        handlers.HANDLERS, "financial_connections.account.deactivated", half_done_then_db_gone
    )
    event_id = store(event(obj=account))
    # Called directly (not in a worker), Celery's retry re-raises the original error.
    with pytest.raises(stripe.APIError):
        tasks.process_event(event_id)
    row = stored(event_id)
    assert row.status == "received"
    assert row.attempts == 1
    with session_scope() as session:
        assert session.get(FcAccount, (account["id"], "")) is None


def test_redrive_claims_only_stale_unprocessed_events(db: None) -> None:
    fresh, stale, done = store(event()), store(event()), store(event())
    with session_scope() as session:
        old = utcnow() - timedelta(hours=1)
        session.execute(
            update(WebhookEvent).where(WebhookEvent.id.in_([stale, done])).values(enqueued_at=old)
        )
        session.execute(
            update(WebhookEvent).where(WebhookEvent.id == done).values(status="processed")
        )
    with session_scope() as session:
        assert processing.claim_for_redrive(session) == [stale]
    with session_scope() as session:
        assert processing.claim_for_redrive(session) == []  # claiming stamps it
    assert stored(fresh).status == "received"


def test_backoff_grows_and_is_capped() -> None:
    assert all(0 <= errors.backoff(0) <= 2 for _ in range(50))
    assert all(0 <= errors.backoff(20) <= errors.BACKOFF_CAP_SECONDS for _ in range(50))
    assert max(errors.backoff(6) for _ in range(200)) > 2
