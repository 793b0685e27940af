"""SMTP credentials vs logs, the database and the operator's screen: a refused login fails the
attempt (not sent, retried) with an error naming EMAIL_URL and never the password; `relink
doctor` logs in exactly as the transport does and shows EMAIL_URL masked."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from cli.doctor import check_email
from shared.db import session_scope, utcnow
from shared.logging import configure_logging
from shared.models import EmailOutbox, OutboxStatus, RelinkCase
from shared.queue import celery_app
from shared.settings import load_settings
from shared.urls import masked_url
from tests.emails.world import due_email, simulated_stripe
from tests.security.smtp_servers import (
    PASSWORD,
    USER,
    Pki,
    smtp_server,
    smtp_url,
    use_settings,
)
from worker.emails import tasks as email_tasks

WRONG = "Wr0ng/Pass+word="
OPS_TOKEN = "ops-token-for-tests-0123456789"


def test_a_refused_login_holds_every_email_without_counting_an_attempt(
    db: None, pki: Pki, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """L14: a 535 was retried like a transient error within seconds, two mechanisms a try:
    ~16 failed logins at the provider in minutes, enough to lock the account. Now one login
    fails, every pending email is held EMAIL_LOGIN_PAUSE_SECONDS (none failed, no attempt
    counted), and /ops says so."""
    configure_logging()
    celery_app()  # the app whose task is patched is the one that runs it
    with (
        smtp_server(starttls=pki.server_context()) as (port, seen),
        simulated_stripe(
            monkeypatch,
            EMAIL_URL=smtp_url(port, password=WRONG),
            EMAIL_CA_BUNDLE=str(pki.ca),
            QUIET_PERIOD_SECONDS="0",
            EMAIL_LOGIN_PAUSE_SECONDS="600",
            OPS_TOKEN=OPS_TOKEN,
        ) as sim,
    ):
        first, second = due_email(sim, "1111"), due_email(sim, "2222")
        before = utcnow()
        assert email_tasks.send_email.run(first) == "held"
        assert email_tasks.send_email.run(second) == "skipped"  # held: no second login
        assert email_tasks.sweep_outbox.run() == 0
    assert seen.logins == [(USER, WRONG)]  # one mechanism, once
    assert seen.messages == []
    with session_scope() as session:
        rows = {row.id: row for row in session.exec(select(EmailOutbox))}
        cases = session.exec(select(RelinkCase)).all()
    for row in rows.values():
        assert (row.status, row.attempts, row.sent_at) == (OutboxStatus.PENDING, 0, None)
        assert row.send_after >= before + timedelta(seconds=599)
    assert [case.emails_sent for case in cases] == [0, 0]
    error = rows[first].last_error or ""
    assert error.startswith("LoginRefused: EMAIL_URL")
    assert "refused the login (535" in error
    with TestClient(create_app()) as client:
        board = client.get("/ops", headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    assert 'id="smtp-login-refused"' in board.text
    assert "refused the login (535" in board.text
    captured = capsys.readouterr()
    assert "smtp_login_refused" in captured.out + captured.err
    for text in (error, captured.out, captured.err, board.text):
        for secret in (WRONG, quote(WRONG, safe=""), USER):
            assert secret not in text


def test_doctor_logs_in_as_the_transport_does(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_server(starttls=pki.server_context()) as (port, seen):
        use_settings(monkeypatch, EMAIL_URL=smtp_url(port), EMAIL_CA_BUNDLE=str(pki.ca))
        good = check_email(load_settings())
        use_settings(monkeypatch, EMAIL_URL=smtp_url(port, password=WRONG))
        refused = check_email(load_settings())
    assert good.status == "ok"
    assert f"smtp://***:***@localhost:{port}" in good.detail
    assert refused.status == "fail"
    assert "refused the login" in refused.detail
    assert set(seen.logins) == {(USER, PASSWORD), (USER, WRONG)}
    for check in (good, refused):
        for secret in (PASSWORD, quote(PASSWORD, safe=""), WRONG, USER):
            assert secret not in check.detail


def test_doctor_never_sends_credentials_to_a_relay_without_starttls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with smtp_server(auth=True) as (port, seen):
        use_settings(monkeypatch, EMAIL_URL=smtp_url(port))
        check = check_email(load_settings())
    assert check.status == "fail"
    assert "STARTTLS" in check.detail
    assert seen.started_auths == 0


def test_email_url_is_shown_without_its_credentials() -> None:
    assert masked_url(smtp_url(587)) == "smtp://***:***@localhost:587"
    assert masked_url("smtps://apikey:SG.x%2Fy@smtp.sendgrid.net:465") == (
        "smtps://***:***@smtp.sendgrid.net:465"
    )
    assert masked_url("smtp://127.0.0.1:1025") == "smtp://127.0.0.1:1025"
    assert masked_url("file://var/outbox") == "file://var/outbox"
