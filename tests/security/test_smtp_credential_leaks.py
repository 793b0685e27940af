"""SMTP credentials vs logs, the database and the operator's screen: a refused login fails the
attempt (not sent, retried) with an error naming EMAIL_URL and never the password; `relink
doctor` logs in exactly as the transport does and shows EMAIL_URL masked."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlmodel import select

from shared.db import session_scope
from shared.logging import configure_logging
from shared.models import EmailOutbox, OutboxStatus, RelinkCase
from shared.queue import celery_app
from shared.settings import load_settings
from shared.urls import masked_url
from tests.emails.world import deactivated_authorization, handle, simulated_stripe
from tests.security.smtp_servers import (
    PASSWORD,
    USER,
    Pki,
    smtp_server,
    smtp_url,
    use_settings,
)
from worker.cli.doctor import check_email
from worker.emails import tasks as email_tasks

WRONG = "Wr0ng/Pass+word="


class Retry(Exception):
    pass


def test_a_refused_login_fails_the_attempt_without_counting_it_sent(
    db: None, pki: Pki, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging()
    celery_app()  # the app whose task is patched is the one that runs it
    monkeypatch.setattr(email_tasks.send_email, "retry", lambda *, exc, countdown: Retry(str(exc)))
    with (
        smtp_server(starttls=pki.server_context()) as (port, seen),
        simulated_stripe(
            monkeypatch,
            EMAIL_URL=smtp_url(port, password=WRONG),
            EMAIL_CA_BUNDLE=str(pki.ca),
            QUIET_PERIOD_SECONDS="0",
        ) as sim,
    ):
        _, events = deactivated_authorization(sim, last4s=("1111",))
        handle(events[0])
        with session_scope() as session:
            row = session.exec(select(EmailOutbox)).one()
        assert row.id is not None
        with pytest.raises(Retry):
            email_tasks.send_email.run(row.id)
    assert set(seen.logins) == {(USER, WRONG)}  # smtplib tries PLAIN, then LOGIN
    assert seen.messages == []
    with session_scope() as session:
        row = session.exec(select(EmailOutbox)).one()
        case = session.exec(select(RelinkCase)).one()
    assert (row.status, row.attempts, row.sent_at) == (OutboxStatus.PENDING, 1, None)
    assert case.emails_sent == 0
    error = row.last_error or ""
    assert "EMAIL_URL" in error
    assert "refused the login" in error
    captured = capsys.readouterr()
    for text in (error, captured.out, captured.err):
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
