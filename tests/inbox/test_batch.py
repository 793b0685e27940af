"""process_events: many events per transaction, each in its own savepoint, so one bad event
never fails its neighbours; siblings of one authorization still open one case and one email."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
import stripe
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from shared.db import session_scope
from shared.events.catalog import PROCESS_EVENT, SEND_EMAIL
from shared.events.inbox import EventHeader, InboxItem, record_events
from shared.models import EmailOutbox, FcAccount, RelinkCase, WebhookEvent
from tests.conftest import Published
from tests.factories import event, fc_account
from worker.inbox import batch, handlers, tasks

DEACTIVATED = "financial_connections.account.deactivated"


def store(*events: dict, payloads: dict[str, str] | None = None) -> list[str]:  # type: ignore[type-arg]
    items = [
        InboxItem(
            EventHeader(e["id"], e["type"], e["created"], False, e.get("api_version"), None),
            (payloads or {}).get(e["id"], orjson.dumps(e).decode()),
            handled=e["type"] in handlers.HANDLERS,
        )
        for e in events
    ]
    with session_scope() as session:
        record_events(session, items, stale_after=timedelta(minutes=2))
    return [e["id"] for e in events]


def statuses(event_ids: list[str]) -> dict[str, tuple[str, int]]:
    with session_scope() as session:
        rows = session.exec(select(WebhookEvent).where(WebhookEvent.id.in_(event_ids))).all()  # type: ignore[attr-defined]
        return {row.id: (row.status, row.attempts) for row in rows}


@pytest.fixture
def deferred(monkeypatch: pytest.MonkeyPatch) -> Published:
    """Events the batch task hands to their own process_event task."""
    sent: Published = []
    monkeypatch.setattr(tasks, "publish", lambda name, args, **_: sent.append((name, list(args))))
    return sent


def funnel_deactivated() -> float:
    return REGISTRY.get_sample_value("relink_funnel_total", {"step": "deactivated"}) or 0.0


def processed_observed() -> float:
    return REGISTRY.get_sample_value("relink_webhook_to_processed_seconds_count") or 0.0


def emails_published(published: Published) -> int:
    return sum(name == SEND_EMAIL for name, _ in published)


def deactivation(authorization: str, last4: str = "0001") -> dict:  # type: ignore[type-arg]
    return event(obj=fc_account(authorization=authorization, last4=last4))


def test_a_batch_processes_every_event_once_and_a_replay_changes_nothing(
    db: None, published: Published, deferred: Published
) -> None:
    ids = store(*(deactivation(f"fcauth_{i}") for i in range(5)))
    assert tasks.process_events(ids) == 5
    assert tasks.process_events(ids) == 0  # already processed: left alone
    assert statuses(ids) == {event_id: ("processed", 1) for event_id in ids}
    with session_scope() as session:
        assert len(session.exec(select(RelinkCase)).all()) == 5
    assert deferred == []
    assert emails_published(published) == 5  # each case's email, after the commit


def test_siblings_in_one_batch_open_one_case_and_one_email(
    db: None, published: Published, deferred: Published
) -> None:
    ids = store(*(deactivation("fcauth_same", last4=f"000{k}") for k in range(3)))
    tasks.process_events(ids)
    with session_scope() as session:
        cases = session.exec(select(RelinkCase)).all()
        emails = session.exec(select(EmailOutbox)).all()
        accounts = session.exec(select(FcAccount)).all()
    assert [c.authorization_id for c in cases] == ["fcauth_same"]
    assert len(emails) == 1
    assert {a.status for a in accounts} == {"inactive"}
    assert len(accounts) == 3
    assert emails_published(published) == 1
    assert deferred == []


def test_a_bad_payload_fails_alone_and_its_neighbours_commit(
    db: None, published: Published, deferred: Published
) -> None:
    good, bad, not_json = deactivation("fcauth_1"), event(obj={"object": "customer"}), event()
    ids = store(good, bad, not_json, payloads={not_json["id"]: "{not json"})
    assert tasks.process_events(ids) == 3
    got = statuses(ids)
    assert got[good["id"]] == ("processed", 1)
    assert got[bad["id"]] == ("failed", 1)
    assert got[not_json["id"]] == ("failed", 1)
    assert deferred == []
    assert emails_published(published) == 1


def test_a_transient_error_rolls_back_that_event_only_and_sends_it_to_its_own_task(
    db: None, published: Published, deferred: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given three events, the middle one's Stripe call failing after it wrote its account
    first, flaky, last = (deactivation(f"fcauth_{i}") for i in range(3))
    original = handlers.HANDLERS[DEACTIVATED]

    def stripe_down_for_one(session, evt):  # type: ignore[no-untyped-def]
        original(session, evt)
        if evt["id"] == flaky["id"]:
            raise stripe.APIConnectionError("connection refused")

    monkeypatch.setitem(handlers.HANDLERS, DEACTIVATED, stripe_down_for_one)
    ids = store(first, flaky, last)
    before = (funnel_deactivated(), processed_observed())
    assert tasks.process_events(ids) == 2
    # the rolled-back event is neither counted in the funnel nor observed as processed
    assert (funnel_deactivated(), processed_observed()) == (before[0] + 2, before[1] + 2)
    got = statuses(ids)
    assert got[first["id"]] == got[last["id"]] == ("processed", 1)
    assert got[flaky["id"]] == ("received", 0)  # its effects rolled back with its savepoint
    with session_scope() as session:
        cases = {c.authorization_id for c in session.exec(select(RelinkCase)).all()}
        assert session.get(FcAccount, (flaky["data"]["object"]["id"], "")) is None
    assert cases == {"fcauth_0", "fcauth_2"}
    assert deferred == [(PROCESS_EVENT, [flaky["id"]])]  # retried alone, with backoff
    assert emails_published(published) == 2  # the rolled-back case's email is not published


def test_a_sibling_failing_after_the_case_opened_leaves_one_case_and_one_email(
    db: None, published: Published, deferred: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given three accounts of one authorization, the first opening the case in the batch and
    # the second failing after it joined it: the batch runs again, one savepoint each
    first, flaky, last = (deactivation("fcauth_same", last4=f"000{k}") for k in range(3))
    original = handlers.HANDLERS[DEACTIVATED]

    def stripe_down_for_one(session, evt):  # type: ignore[no-untyped-def]
        original(session, evt)
        if evt["id"] == flaky["id"]:
            raise stripe.APIConnectionError("connection refused")

    monkeypatch.setitem(handlers.HANDLERS, DEACTIVATED, stripe_down_for_one)
    ids = store(first, flaky, last)
    assert tasks.process_events(ids) == 2
    with session_scope() as session:
        cases = session.exec(select(RelinkCase)).all()
        emails = session.exec(select(EmailOutbox)).all()
        accounts = {a.id for a in session.exec(select(FcAccount)).all()}
    assert [(c.authorization_id, c.account_id) for c in cases] == [
        ("fcauth_same", first["data"]["object"]["id"])
    ]
    assert [e.case_id for e in emails] == [cases[0].id]
    assert accounts == {first["data"]["object"]["id"], last["data"]["object"]["id"]}
    assert deferred == [(PROCESS_EVENT, [flaky["id"]])]
    assert emails_published(published) == 1


def test_a_batch_whose_transaction_fails_goes_event_by_event(
    db: None, deferred: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = store(*(deactivation(f"fcauth_{i}") for i in range(3)))

    def database_gone(_ids: list[str]) -> batch.BatchResult:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(batch, "process_batch", database_gone)
    assert tasks.process_events(ids) == 0
    assert deferred == [(PROCESS_EVENT, [event_id]) for event_id in ids]


def test_a_large_batch_is_split_into_transactions_of_max_batch(
    db: None, published: Published, deferred: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks: list[int] = []
    original = batch.process_batch

    def counting(event_ids: list[str]) -> batch.BatchResult:
        chunks.append(len(event_ids))
        return original(event_ids)

    monkeypatch.setattr(batch, "MAX_BATCH", 2)
    monkeypatch.setattr(tasks, "MAX_BATCH", 2)
    monkeypatch.setattr(batch, "process_batch", counting)
    ids = store(*(deactivation(f"fcauth_{i}") for i in range(5)))
    assert tasks.process_events(ids) == 5
    assert chunks == [2, 2, 1]


def test_one_new_account_twice_in_a_batch_is_stored_once_newest_state_winning(
    db: None, published: Published, deferred: Published
) -> None:
    # given an account relink has never seen, in two deactivations of one batch
    account = fc_account(authorization="fcauth_twice", last4="1111")
    older = event(obj=account, created=1_767_000_000)
    newer = event(obj={**account, "last4": "2222"}, created=1_767_000_100)
    ids = store(newer, older)
    assert tasks.process_events(ids) == 2
    assert deferred == []  # no duplicate insert pushed an event out of the batch
    with session_scope() as session:
        accounts = session.exec(select(FcAccount)).all()
        cases = session.exec(select(RelinkCase)).all()
    assert [(a.id, a.last4) for a in accounts] == [(account["id"], "2222")]
    assert len(cases) == 1


def test_an_account_stored_before_the_batch_is_updated_in_place(
    db: None, published: Published, deferred: Published
) -> None:
    active = fc_account(authorization="fcauth_known", status="active", status_details={})
    created = event("financial_connections.account.created", obj=active, created=1_767_000_000)
    tasks.process_events(store(created))
    inactive = {**active, "status": "inactive", "status_details": fc_account()["status_details"]}
    tasks.process_events(store(deactivation("fcauth_other"), event(obj=inactive)))
    with session_scope() as session:
        stored = session.get(FcAccount, (active["id"], ""))
        assert stored is not None
        assert stored.status == "inactive"
    assert deferred == []


def test_same_ids_on_the_platform_and_two_connected_accounts_in_one_batch_stay_apart(
    db: None, published: Published, deferred: Published
) -> None:
    """One transaction locks each (Stripe account, id) up front: three accounts, three
    authorizations, three cases, three emails, though the ids are the same."""
    obj = fc_account(id="fca_same", authorization="fcauth_same")
    ids = store(*(event(obj=obj, account=account) for account in (None, "acct_A", "acct_B")))
    assert tasks.process_events(ids) == 3
    with session_scope() as session:
        cases = session.exec(select(RelinkCase)).all()
        accounts = session.exec(select(FcAccount)).all()
    assert sorted(c.stripe_account for c in cases) == ["", "acct_A", "acct_B"]
    assert sorted((a.stripe_account, a.id, a.status) for a in accounts) == [
        ("", "fca_same", "inactive"),
        ("acct_A", "fca_same", "inactive"),
        ("acct_B", "fca_same", "inactive"),
    ]
    assert emails_published(published) == 3
    assert deferred == []
