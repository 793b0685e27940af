"""Deactivation to email on SQLite with the simulator as Stripe: one case and one email per
authorization, claim and Message-ID idempotency, reactivation and no_contact, reminders."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shared.cases.links import read_link
from shared.db import session_scope, utcnow
from shared.emails.enqueue import request_fresh_link
from shared.models import CaseState, EmailKind, EmailOutbox, OutboxStatus, RelinkCase
from sim import scenarios
from sim.testing import SimServer
from tests.emails.world import (
    cases,
    deactivated_authorization,
    handle,
    outbox_rows,
    sent_files,
    text_of,
)
from tests.factories import event as make_event
from tests.factories import fc_account
from worker.cases.service import cancel_pending_emails, resolve_case
from worker.emails import claim, send
from worker.emails.message import message_id_header
from worker.errors import PermanentEventError


def test_siblings_share_one_case_and_one_email_naming_every_account(
    sim: SimServer, outbox_dir: Path
) -> None:
    auth, events = deactivated_authorization(sim)
    for evt in [*reversed(events), events[0]]:  # out of order, one twice
        handle(evt)
    [case] = cases()
    [row] = outbox_rows()
    assert (case.state, case.authorization_id, row.kind) == ("open", auth["id"], "relink")

    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]
    assert send.send_outbox(row.id) == "skipped"  # type: ignore[arg-type]

    [message] = sent_files(outbox_dir)
    assert message["To"] == "ada@example.com"
    assert message["Message-ID"] == f"<relink-outbox-{row.id}@example.com>"
    text = text_of(message)
    for last4 in ("1111", "2222", "3333"):
        assert last4 in text
    token = text.split("https://relink.example/relink/")[1].split()[0]
    payload = read_link(token)
    assert (payload.case_id, payload.authorization_id) == (case.id, auth["id"])
    assert payload.account_id in auth["accounts"]
    [case] = cases()
    assert case.emails_sent == 1
    assert case.next_reminder_at is not None


def test_claim_is_exclusive_and_a_stale_claim_can_be_taken_over(sim: SimServer) -> None:
    _, events = deactivated_authorization(sim, last4s=("1111",))
    handle(events[0])
    [row] = outbox_rows()
    now = utcnow()
    with session_scope() as session:
        assert claim.claim(session, row.id, now=now) is not None  # type: ignore[arg-type]
    with session_scope() as session:
        assert claim.claim(session, row.id, now=now + timedelta(seconds=1)) is None  # type: ignore[arg-type]
    with session_scope() as session:
        later = now + timedelta(seconds=301)
        claimed = claim.claim(session, row.id, now=later)  # type: ignore[arg-type]
        assert claimed is not None
        assert claimed.attempts == 2


def test_a_worker_whose_claim_was_taken_over_mid_send_sends_nothing(
    sim: SimServer, outbox_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a slow send: while this worker waits for its SMTP token, its claim goes stale
    # and another worker takes the row over (as the sweep lets it)
    _, events = deactivated_authorization(sim, last4s=("1111",))
    handle(events[0])
    [row] = outbox_rows()
    taken_over: list[bool] = []

    def slow_token(outbox_id: int, _settings: object) -> None:
        with session_scope() as session:
            later = utcnow() + timedelta(seconds=301)
            taken_over.append(claim.claim(session, outbox_id, now=later) is not None)

    monkeypatch.setattr(send, "take_smtp_token", slow_token)
    # when the first worker gets to the send
    assert send.send_outbox(row.id) == "skipped"  # type: ignore[arg-type]
    # then it sent nothing: the row is the other worker's to send, once
    assert taken_over == [True]
    assert sent_files(outbox_dir) == []
    [stored] = outbox_rows()
    assert stored.status == OutboxStatus.SENDING


def test_message_id_depends_only_on_the_row_and_the_sender_domain() -> None:
    assert message_id_header(7, "relink <relink@example.com>") == "<relink-outbox-7@example.com>"
    assert message_id_header(7, "relink <relink@example.com>") == message_id_header(
        7, "Other Name <relink@example.com>"
    )


def test_a_resend_after_a_crash_reuses_the_message_id(sim: SimServer, outbox_dir: Path) -> None:
    _, events = deactivated_authorization(sim, last4s=("1111",))
    handle(events[0])
    [row] = outbox_rows()
    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]
    first = sent_files(outbox_dir)[0]["Message-ID"]
    with session_scope() as session:  # as if the worker died before marking it sent
        stored = session.get(EmailOutbox, row.id)
        assert stored is not None
        stored.status, stored.claimed_at = OutboxStatus.SENDING, utcnow() - timedelta(hours=1)
    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]
    assert [m["Message-ID"] for m in sent_files(outbox_dir)] == [first]


def test_reactivated_before_sending_sends_nothing_and_closes_the_case(
    sim: SimServer, outbox_dir: Path
) -> None:
    auth, events = deactivated_authorization(sim)
    for evt in events:
        handle(evt)
    with sim.state.lock:
        scenarios.reactivate_authorization(sim.state, sim.state.authorizations[auth["id"]])
    [row] = outbox_rows()
    assert send.send_outbox(row.id) == "reactivated"  # type: ignore[arg-type]
    [case] = cases()
    assert (case.state, case.resolution) == ("resolved", "reactivated")
    assert outbox_rows()[0].status == "cancelled"
    assert sent_files(outbox_dir) == []


def test_no_email_on_file_marks_the_case_no_contact(sim: SimServer, outbox_dir: Path) -> None:
    _, events = deactivated_authorization(sim, email=None, last4s=("1111",))
    handle(events[0])
    [row] = outbox_rows()
    assert send.send_outbox(row.id) == "no_contact"  # type: ignore[arg-type]
    assert cases()[0].state == CaseState.NO_CONTACT
    assert outbox_rows()[0].status == OutboxStatus.NO_CONTACT
    assert sent_files(outbox_dir) == []


def test_action_none_opens_an_unrepairable_case_with_one_email_and_no_link(
    sim: SimServer, outbox_dir: Path
) -> None:
    _, events = deactivated_authorization(sim, cause="account_closed", action="none")
    for evt in events:
        handle(evt)
    [case] = cases()
    [row] = outbox_rows()
    assert (case.state, row.kind) == ("unrepairable", "unrepairable")
    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]
    [message] = sent_files(outbox_dir)
    text = text_of(message)
    assert "set up a new payment method" in text
    assert "/relink/" not in text
    assert len(outbox_rows()) == 1  # no reminders for an unrepairable case


def test_ga_payload_is_refetched_at_the_preview_version(sim: SimServer) -> None:
    auth, events = deactivated_authorization(sim, last4s=("1111",))
    account = dict(events[0]["data"]["object"])
    assert account.pop("authorization") == auth["id"]
    account["status_details"] = {}
    sim.client.clear_requests()
    handle({**events[0], "data": {"object": account}})
    [request] = sim.client.requests("/v1/financial_connections/accounts/")
    assert request["stripe_version"] == "2026-09-30.preview"
    assert cases()[0].authorization_id == auth["id"]


def test_ga_version_everywhere_is_a_permanent_error_naming_the_version(
    sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.settings import get_settings

    monkeypatch.setenv("STRIPE_API_VERSION", "2026-10-28.endive")
    get_settings.cache_clear()
    _, events = deactivated_authorization(sim, last4s=("1111",))
    account = dict(events[0]["data"]["object"])
    account.pop("authorization")
    account["status_details"] = {}
    with pytest.raises(PermanentEventError, match="API version"):
        handle({**events[0], "data": {"object": account}})
    assert cases() == []


def test_an_older_snapshot_changes_nothing(sim: SimServer) -> None:
    account = fc_account(authorization="fcauth_old", status="active", status_details={})
    handle(make_event(type="financial_connections.account.created", obj=account, created=2000))
    handle(
        make_event(
            obj={
                **account,
                "status": "inactive",
                "status_details": {
                    "inactive": {"action": "relink_required", "cause": "access_expired"}
                },
            },
            created=1000,
        )
    )
    assert cases() == []


def test_reminders_each_at_most_once_and_cancelled_when_the_case_resolves(
    sim: SimServer,
) -> None:
    _, events = deactivated_authorization(sim, last4s=("1111",))
    handle(events[0])
    [row] = outbox_rows()
    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]
    reminders = [r for r in outbox_rows() if r.kind == EmailKind.REMINDER]
    assert [r.message_id for r in reminders] == [
        f"relink-case-{row.case_id}-reminder-1",
        f"relink-case-{row.case_id}-reminder-2",
    ]
    sent_at = outbox_rows()[0].sent_at
    assert sent_at is not None
    assert [r.send_after - sent_at for r in reminders] == [timedelta(days=3), timedelta(days=7)]
    with session_scope() as session:  # scheduling again adds nothing
        from worker.emails.reminders import schedule_reminders

        case = session.get(RelinkCase, row.case_id)
        assert case is not None
        assert schedule_reminders(session, case, sent_at=utcnow()) == []
    with session_scope() as session:
        case = session.get(RelinkCase, row.case_id)
        assert case is not None
        resolve_case(session, case, "reactivated")
    assert {r.status for r in outbox_rows() if r.kind == EmailKind.REMINDER} == {"cancelled"}
    assert cases()[0].next_reminder_at is None
    with session_scope() as session:
        assert cancel_pending_emails(session, row.case_id) == 0  # type: ignore[arg-type]


def test_a_due_reminder_is_swept_and_sent(sim: SimServer, outbox_dir: Path) -> None:
    _, events = deactivated_authorization(sim, last4s=("1111",))
    handle(events[0])
    [row] = outbox_rows()
    send.send_outbox(row.id)  # type: ignore[arg-type]
    with session_scope() as session:
        assert claim.due_outbox_ids(session) == []
        due = claim.due_outbox_ids(session, now=utcnow() + timedelta(days=3, seconds=1))
    assert len(due) == 1
    with session_scope() as session:
        reminder = session.get(EmailOutbox, due[0])
        assert reminder is not None
        reminder.send_after = utcnow()
    assert send.send_outbox(due[0]) == "sent"
    assert [m["Subject"] for m in sent_files(outbox_dir)][-1].startswith("Reminder:")


def test_fresh_link_is_rate_limited_per_case(sim: SimServer) -> None:
    _, events = deactivated_authorization(sim, last4s=("1111",))
    handle(events[0])
    case_id = outbox_rows()[0].case_id
    assert case_id is not None
    now = utcnow()
    with session_scope() as session:
        assert request_fresh_link(session, case_id, now=now) == "queued"
    with session_scope() as session:
        assert (
            request_fresh_link(session, case_id, now=now + timedelta(minutes=5)) == "rate_limited"
        )
    with session_scope() as session:
        assert request_fresh_link(session, case_id, now=now + timedelta(minutes=11)) == "queued"
    with session_scope() as session:
        assert request_fresh_link(session, 999) == "missing"
    assert [r.kind for r in outbox_rows()].count("fresh_link") == 2
