"""Passwords (and users) inside DATABASE_URL, CELERY_BROKER_URL and EMAIL_URL must not be shown by
repr(Settings), the `relink dev` banner or `relink doctor` (terminals, logs, screen shares)."""

from __future__ import annotations

import pytest

from shared import migrate
from shared.settings import load_settings
from tests.cli.conftest import fake_dev, relink

PASSWORD = "hunter2-db-broker-smtp"
URLS = {
    "DATABASE_URL": f"postgresql+psycopg://relink:{PASSWORD}@127.0.0.1:1/relink",
    "CELERY_BROKER_URL": f"redis://:{PASSWORD}@127.0.0.1:1/0",
    "EMAIL_URL": f"smtp://mailer:{PASSWORD}@127.0.0.1:1",
}


@pytest.fixture
def passworded_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, url in URLS.items():
        monkeypatch.setenv(name, url)


def test_settings_repr_and_str_hide_url_passwords(passworded_urls: None) -> None:
    settings = load_settings()
    for text in (repr(settings), str(settings)):
        assert PASSWORD not in text
        assert "postgresql+psycopg://***:***@127.0.0.1:1/relink" in text


def test_dev_banner_hides_url_passwords(
    passworded_urls: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrate, "upgrade", lambda *_args: None)
    with fake_dev(monkeypatch):
        for name, url in URLS.items():
            monkeypatch.setenv(name, url)
        result = relink("dev")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert "redis://***:***@127.0.0.1:1/0" in result.output


def test_doctor_hides_url_passwords(passworded_urls: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:1")  # no call leaves the machine
    result = relink("doctor", "--json")
    assert result.exit_code == 1  # nothing answers on port 1
    assert PASSWORD not in result.output
    assert "postgresql+psycopg://***:***@127.0.0.1:1/relink" in result.output
