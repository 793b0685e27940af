"""`relink events list|show|replay` and `relink doctor`, driven through typer's CliRunner."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from shared import migrate
from shared.db import session_scope, utcnow
from shared.models import (
    CaseState,
    EmailKind,
    EmailOutbox,
    EventStatus,
    FcAccount,
    FcAuthorization,
    OutboxStatus,
    RelinkAttempt,
    RelinkCase,
    WebhookEvent,
)
from shared.settings import get_settings
from sim.testing import run_sim_server
from worker.cli import operator as operator_cli
from worker.cli.main import cli

runner = CliRunner()
DEACTIVATED = "financial_connections.account.deactivated"
REACTIVATED = "financial_connections.account.reactivated"


def relink(*args: str) -> Any:
    return runner.invoke(cli, list(args))


def add_event(
    event_id: str,
    status: str = EventStatus.PROCESSED,
    type_: str = DEACTIVATED,
    *,
    age_minutes: int = 0,
    payload: str | None = "default",
    last_error: str | None = None,
) -> None:
    received = utcnow() - timedelta(minutes=age_minutes)
    with session_scope() as session:
        session.add(
            WebhookEvent(
                id=event_id,
                type=type_,
                livemode=False,
                created=1_767_225_600,
                payload=json.dumps({"id": event_id, "object": "event"})
                if payload == "default"
                else payload,
                status=status,
                attempts=3 if status == EventStatus.DEAD else 1,
                last_error=last_error,
                received_at=received,
                processed_at=received if status != EventStatus.RECEIVED else None,
            )
        )


def stored(event_id: str) -> WebhookEvent:
    with session_scope() as session:
        row = session.get(WebhookEvent, event_id)
        assert row is not None
        return row


@pytest.fixture
def inbox(db: None) -> None:
    add_event("evt_dead_1", EventStatus.DEAD, age_minutes=30, last_error="APIError: boom")
    add_event("evt_dead_2", EventStatus.DEAD, age_minutes=20, last_error="APIError: boom")
    add_event("evt_done", EventStatus.PROCESSED, age_minutes=10)
    add_event("evt_reactivated", EventStatus.PROCESSED, REACTIVATED, age_minutes=5)
    add_event("evt_other", EventStatus.IGNORED, "customer.created", age_minutes=1)


# ---------------------------------------------------------------- events list / show


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


# ---------------------------------------------------------------- doctor


def good_endpoint(**overrides: Any) -> dict[str, Any]:
    endpoint = {
        "id": "we_123",
        "object": "webhook_endpoint",
        "url": "http://localhost:8000/webhooks/stripe",
        "status": "enabled",
        "api_version": "2026-09-30.preview",
        "application": None,
        "livemode": False,
        "enabled_events": [
            "financial_connections.account.deactivated",
            "financial_connections.account.reactivated",
            "financial_connections.account.upcoming_deactivation",
            "financial_connections.account.expected_deactivation_date_updated",
            "financial_connections.account.disconnected",
        ],
    }
    endpoint.update(overrides)
    return endpoint


@pytest.fixture
def endpoints(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = [good_endpoint()]
    monkeypatch.setattr(operator_cli, "fetch_webhook_endpoints", lambda _settings: answer)
    monkeypatch.setattr(
        operator_cli,
        "check_webhook_endpoint",
        lambda settings: _real_check(settings, fetch=lambda _s: answer),
    )
    return answer


_real_check = operator_cli.check_webhook_endpoint


@pytest.fixture
def migrated() -> None:
    migrate.upgrade()


def test_doctor_passes_on_a_healthy_setup(migrated: None, endpoints: list[Any]) -> None:
    result = relink("doctor")
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    report = json.loads(relink("doctor", "--json").output)
    assert report["ok"] is True
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert statuses == {
        "settings": "ok",
        "database": "ok",
        "broker": "ok",
        "email": "warn",  # file://: nobody receives the emails
        "stripe key": "ok",
        "webhook endpoint": "ok",
    }


def test_doctor_never_prints_a_secret(migrated: None, endpoints: list[Any]) -> None:
    output = relink("doctor", "--json").output
    assert "sk_test_unit" not in output
    assert "whsec_" not in output


def test_doctor_fails_when_the_database_is_not_migrated(db: None, endpoints: list[Any]) -> None:
    result = relink("doctor", "--json")
    assert result.exit_code == 1
    database = next(c for c in json.loads(result.output)["checks"] if c["name"] == "database")
    assert database["status"] == "fail"
    assert "relink migrate" in database["detail"]


def test_doctor_fails_on_invalid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_URL", "carrier-pigeon://loft")
    get_settings.cache_clear()
    result = relink("doctor")
    assert result.exit_code == 1
    assert "EMAIL_URL" in result.output


def test_doctor_fails_when_smtp_is_unreachable(
    migrated: None, endpoints: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_URL", "smtp://127.0.0.1:1")
    get_settings.cache_clear()
    result = relink("doctor", "--json")
    assert result.exit_code == 1
    email = next(c for c in json.loads(result.output)["checks"] if c["name"] == "email")
    assert email["status"] == "fail"


def test_doctor_fails_when_the_broker_is_unreachable(
    migrated: None, endpoints: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    result = relink("doctor", "--json")
    assert result.exit_code == 1
    broker = next(c for c in json.loads(result.output)["checks"] if c["name"] == "broker")
    assert broker["status"] == "fail"


@pytest.mark.parametrize(
    ("endpoint", "status", "words"),
    [
        (good_endpoint(), "ok", "we_123"),
        (good_endpoint(enabled_events=["*"]), "ok", "we_123"),
        (good_endpoint(url="https://elsewhere.example/webhooks/stripe"), "fail", "none points"),
        (good_endpoint(status="disabled"), "fail", "status is disabled"),
        (good_endpoint(enabled_events=[DEACTIVATED]), "fail", "missing events"),
        (good_endpoint(enabled_events=[DEACTIVATED, REACTIVATED]), "warn", "not enabled"),
        (good_endpoint(api_version="2026-10-28.endive"), "warn", "not a preview version"),
        (good_endpoint(api_version=None), "warn", "account default"),
        (good_endpoint(connect=True), "fail", "Connect"),
        (good_endpoint(application="ca_123"), "fail", "Connect"),
        (good_endpoint(livemode=True), "fail", "mode differs"),
    ],
)
def test_webhook_endpoint_check(endpoint: dict[str, Any], status: str, words: str) -> None:
    check = operator_cli.check_webhook_endpoint(get_settings(), fetch=lambda _s: [endpoint])
    assert check.status == status, check.detail
    assert words in check.detail


def test_webhook_endpoint_check_against_the_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the real SDK and the simulator's GET /v1/webhook_endpoints."""
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://relink.example.com")
    with run_sim_server(rate_limit_per_second=0) as sim:
        monkeypatch.setenv("STRIPE_API_BASE", sim.base_url)
        monkeypatch.setenv("STRIPE_API_KEY", sim.api_key)
        get_settings.cache_clear()
        missing = operator_cli.check_webhook_endpoint(get_settings())
        url = "https://relink.example.com/webhooks/stripe"
        sim.client.configure_webhooks(url, api_version="2026-10-28.endive")
        on_ga = operator_cli.check_webhook_endpoint(get_settings())
        sim.client.configure_webhooks(url, api_version="2026-09-30.preview")
        on_preview = operator_cli.check_webhook_endpoint(get_settings())
    assert missing.status == "fail"
    assert "none points at https://relink.example.com/webhooks/stripe" in missing.detail
    assert on_ga.status == "warn"
    assert "not a preview version" in on_ga.detail
    assert on_preview.status == "ok"


# ---------------------------------------------------------------- cases and emails

ADDRESS = "ada.lovelace@example.com"


def add_case(
    case_id: int,
    authorization: str,
    *,
    state: str = CaseState.OPEN,
    institution: str = "StripeBank",
    age_minutes: int = 0,
) -> None:
    opened = utcnow() - timedelta(minutes=age_minutes)
    with session_scope() as session:
        session.add(FcAuthorization(id=authorization, institution_name=institution))
        for n in (1, 2):
            session.add(
                FcAccount(
                    id=f"fca_{authorization}_{n}",
                    authorization_id=authorization,
                    institution_name=institution,
                    display_name=f"Account {n}",
                    last4=f"000{n}",
                    status="inactive",
                    inactive_cause="access_expired",
                    inactive_action="relink_required",
                )
            )
        resolved = state == CaseState.RESOLVED
        session.add(
            RelinkCase(
                id=case_id,
                authorization_id=authorization,
                account_id=f"fca_{authorization}_1",
                state=state,
                cause="access_expired",
                action="relink_required",
                opened_at=opened,
                last_heard_at=opened,
                resolved_at=utcnow() if resolved else None,
                resolution="reactivated" if resolved else None,
            )
        )


@pytest.fixture
def cases(db: None) -> None:
    add_case(1, "fcauth_a", age_minutes=60)
    add_case(2, "fcauth_b", institution="Other Bank", age_minutes=30)
    add_case(3, "fcauth_c", state=CaseState.RESOLVED, age_minutes=10)
    start = utcnow() - timedelta(minutes=60)
    add_event(
        "evt_a_deactivated",
        payload=json.dumps({"data": {"object": {"id": "fca_fcauth_a_1"}}}),
        age_minutes=59,
    )
    add_event("evt_b", payload=json.dumps({"data": {"object": {"id": "fca_fcauth_b_1"}}}))
    with session_scope() as session:
        session.add(
            EmailOutbox(
                case_id=1,
                kind=EmailKind.RELINK,
                recipient=ADDRESS,
                status=OutboxStatus.SENT,
                attempts=1,
                message_id="relink-case-1-relink",
                send_after=start + timedelta(minutes=2),
                sent_at=start + timedelta(minutes=3),
            )
        )
        session.add(
            EmailOutbox(
                case_id=1,
                kind=EmailKind.REMINDER,
                message_id="relink-case-1-reminder-1",
                send_after=start + timedelta(days=3),
            )
        )
        session.add(
            RelinkAttempt(
                case_id=1,
                session_id="fcsess_first",
                mode="account",
                result="no_account",
                created_at=start + timedelta(minutes=10),
            )
        )


def test_cases_list_shows_a_table(cases: None) -> None:
    result = relink("cases", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["ID", "STATE", "INSTITUTION", "AUTHORIZATION"]
    assert [line.split()[0] for line in lines[2:]] == ["3", "2", "1"]  # last heard first


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--state", "open"], [2, 1]),
        (["--state", "resolved"], [3]),
        (["--institution", "other bank"], [2]),
        (["--institution", "StripeBank", "--state", "open"], [1]),
        (["--limit", "1"], [3]),
        (["--institution", "Nowhere"], []),
    ],
)
def test_cases_list_filters_as_json(cases: None, args: list[str], expected: list[int]) -> None:
    result = relink("cases", "list", *args, "--json")
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in json.loads(result.output)] == expected


def test_cases_list_refuses_an_unknown_state(cases: None) -> None:
    assert relink("cases", "list", "--state", "sleepy").exit_code == 2


def test_cases_list_says_so_when_nothing_matches(db: None) -> None:
    result = relink("cases", "list")
    assert result.exit_code == 0
    assert result.output.strip() == "no cases"


def test_cases_show_merges_a_timeline_in_time_order(cases: None) -> None:
    result = relink("cases", "show", "1", "--json")
    assert result.exit_code == 0, result.output
    detail = json.loads(result.output)
    assert detail["case"]["institution"] == "StripeBank"
    assert [a["id"] for a in detail["accounts"]] == ["fca_fcauth_a_1", "fca_fcauth_a_2"]
    timeline = [(e["kind"], e["id"]) for e in detail["timeline"]]
    assert timeline == [
        ("case", 1),
        ("event", "evt_a_deactivated"),  # only the events naming this case's accounts
        ("email", 1),
        ("attempt", "fcsess_first"),
        ("email", 2),  # the reminder, due in three days
    ]
    times = [e["at"] for e in detail["timeline"]]
    assert times == sorted(times)
    sent = detail["timeline"][2]
    assert (sent["what"], sent["status"], sent["attempts"]) == ("relink", "sent", 1)
    assert sent["recipient"] == "a***@example.com"
    assert detail["timeline"][3]["mode"] == "account"
    assert detail["timeline"][3]["result"] == "no_account"


def test_cases_show_table_never_prints_the_address(cases: None) -> None:
    result = relink("cases", "show", "1")
    assert result.exit_code == 0, result.output
    assert "timeline:" in result.output
    assert "evt_a_deactivated" in result.output
    assert "fcsess_first" in result.output
    assert ADDRESS not in result.output
    assert ADDRESS not in relink("cases", "show", "1", "--json").output


def test_cases_show_a_resolved_case_ends_with_its_resolution(cases: None) -> None:
    detail = json.loads(relink("cases", "show", "3", "--json").output)
    assert detail["timeline"][-1] | {"at": None} == {
        "at": None,
        "kind": "case",
        "id": 3,
        "what": "resolved",
        "detail": "reactivated",
    }


def test_cases_show_unknown_case_exits_1(db: None) -> None:
    result = relink("cases", "show", "404")
    assert result.exit_code == 1
    assert "no case 404" in result.output


@pytest.mark.parametrize(
    ("address", "masked"),
    [(ADDRESS, "a***@example.com"), ("x@y.z", "x***@y.z"), ("no-at-sign", "***"), (None, None)],
)
def test_mask_email(address: str | None, masked: str | None) -> None:
    assert operator_cli.mask_email(address) == masked


def outbox_of(case_id: int) -> list[EmailOutbox]:
    with session_scope() as session:
        return list(session.exec(select(EmailOutbox).where(EmailOutbox.case_id == case_id)))


def test_resend_queues_a_fresh_link_through_the_worker_path(cases: None, tmp_path: Any) -> None:
    queue = tmp_path / "var" / "broker" / "queue"
    queue.mkdir(parents=True, exist_ok=True)
    result = relink("emails", "resend", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["outcome"] == "queued"
    [row] = outbox_of(2)
    assert (row.kind, row.status) == (EmailKind.FRESH_LINK, OutboxStatus.PENDING)
    messages = list(queue.iterdir())  # relink.send_email(row.id): sent under the SMTP limit
    assert len(messages) == 1
    assert "relink.send_email" in messages[0].read_text()


def test_resend_respects_the_fresh_link_interval(cases: None, tmp_path: Any) -> None:
    (tmp_path / "var" / "broker" / "queue").mkdir(parents=True, exist_ok=True)
    assert relink("emails", "resend", "2").exit_code == 0
    again = relink("emails", "resend", "2")
    assert again.exit_code == 1
    assert "fresh link less than 600s ago" in again.output
    assert len(outbox_of(2)) == 1


def test_resend_refuses_a_resolved_case(cases: None) -> None:
    result = relink("emails", "resend", "3")
    assert result.exit_code == 1
    assert "case 3 is resolved" in result.output
    assert outbox_of(3) == []


def test_resend_unknown_case_exits_1(db: None) -> None:
    result = relink("emails", "resend", "404", "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["outcome"] == "missing"
