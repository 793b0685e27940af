"""`relink doctor`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cli import doctor as operator_cli
from shared import migrate
from shared.events.catalog import INVOICE_EVENT_TYPES, SNAPSHOT_EVENT_TYPES
from shared.settings import get_settings
from sim.testing import run_sim_server
from tests.cli.conftest import (
    DEACTIVATED,
    REACTIVATED,
    relink,
)


def good_endpoint(**overrides: Any) -> dict[str, Any]:
    endpoint = {
        "id": "we_123",
        "object": "webhook_endpoint",
        "url": "http://localhost:8000/webhooks/stripe",
        "status": "enabled",
        "api_version": "2026-09-30.preview",
        "application": None,
        "livemode": False,
        "enabled_events": sorted(SNAPSHOT_EVENT_TYPES),
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
        "connect endpoint": "skip",  # STRIPE_CONNECT is off
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
    assert "redis://127.0.0.1:1/0 unreachable" in broker["detail"]


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


AUTHORIZATION_WARNING = "financial_connections.authorization.upcoming_deactivation"


def test_every_type_relink_handles_is_required_or_recommended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    without_auth = good_endpoint(
        enabled_events=sorted(SNAPSHOT_EVENT_TYPES - {AUTHORIZATION_WARNING})
    )
    check = operator_cli.check_webhook_endpoint(get_settings(), fetch=lambda _s: [without_auth])
    assert (check.status, check.detail.count("financial_connections")) == ("warn", 1)
    assert AUTHORIZATION_WARNING in check.detail

    monkeypatch.setenv("RECOVER_FAILED_PAYMENTS", "true")
    get_settings.cache_clear()
    check = operator_cli.check_webhook_endpoint(get_settings(), fetch=lambda _s: [good_endpoint()])
    assert check.status == "warn"
    assert all(t in check.detail for t in INVOICE_EVENT_TYPES)
    with_invoices = good_endpoint(enabled_events=sorted(SNAPSHOT_EVENT_TYPES | INVOICE_EVENT_TYPES))
    check = operator_cli.check_webhook_endpoint(get_settings(), fetch=lambda _s: [with_invoices])
    assert check.status == "ok", check.detail


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


CONNECT_URL = "http://localhost:8000/webhooks/stripe/connect"


@pytest.mark.parametrize(
    ("endpoints", "status", "words"),
    [
        ([good_endpoint(), good_endpoint(id="we_c", url=CONNECT_URL, connect=True)], "ok", "we_c"),
        ([good_endpoint(id="we_c", url=CONNECT_URL, application="ca_1")], "ok", "we_c"),
        ([good_endpoint(connect=True)], "fail", "none points at " + CONNECT_URL),
        ([good_endpoint(url=CONNECT_URL, status="disabled")], "fail", "status is disabled"),
    ],
)
def test_connect_endpoint_check_with_connect_on(
    monkeypatch: pytest.MonkeyPatch, endpoints: list[dict[str, Any]], status: str, words: str
) -> None:
    monkeypatch.setenv("STRIPE_CONNECT", "true")
    monkeypatch.setenv("STRIPE_CONNECT_WEBHOOK_SECRETS", "whsec_test_connect")
    get_settings.cache_clear()
    check = operator_cli.check_connect_endpoint(get_settings(), fetch=lambda _s: endpoints)
    assert check.status == status, check.detail
    assert words in check.detail


def test_connect_endpoint_check_against_the_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connect on: the account endpoint and the Connect one, each at its own URL."""
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://relink.example.com")
    monkeypatch.setenv("STRIPE_CONNECT", "true")
    monkeypatch.setenv("STRIPE_CONNECT_WEBHOOK_SECRETS", "whsec_test_connect")
    with run_sim_server(rate_limit_per_second=0) as sim:
        monkeypatch.setenv("STRIPE_API_BASE", sim.base_url)
        monkeypatch.setenv("STRIPE_API_KEY", sim.api_key)
        get_settings.cache_clear()
        sim.client.configure_webhooks("https://relink.example.com/webhooks/stripe")
        missing = operator_cli.check_connect_endpoint(get_settings())
        sim.client.configure_webhooks(
            "https://relink.example.com/webhooks/stripe/connect", connect=True
        )
        connect = operator_cli.check_connect_endpoint(get_settings())
        account = operator_cli.check_webhook_endpoint(get_settings())
    assert missing.status == "fail"
    assert (connect.status, account.status) == ("ok", "ok"), (connect.detail, account.detail)
