"""`relink dev` with its processes faked (tests/integration/test_dev.py runs it for real), and
`relink migrate`."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from cli.embedded import DEV_LINK_KEY_FILE, DEV_WEBHOOK_SECRET_FILE
from shared.db import get_engine
from tests.cli.conftest import DevRun, relink


def test_dev_migrates_then_starts_simulator_worker_and_api(dev_run: DevRun) -> None:
    result = relink("dev", "--port", "8123", "--sim-port", "12999")
    assert result.exit_code == 0, result.output
    sim, worker = dev_run.started
    assert sim.args[1:] == [
        "-m",
        "sim",
        "--port",
        "12999",
        "--webhook-url",
        "http://127.0.0.1:8123/webhooks/stripe",
    ]
    assert worker.args[1:6] == ["-m", "celery", "-A", "worker", "worker"]
    assert "--beat" in worker.args
    [served] = dev_run.served
    assert served.kwargs["port"] == 8123
    assert served.env["STRIPE_API_BASE"] == "http://127.0.0.1:12999"
    assert served.env["PUBLIC_BASE_URL"] == "http://127.0.0.1:8123"
    tables = inspect(create_engine("sqlite:///var/relink.db")).get_table_names()
    assert {"webhook_event", "relink_case"} <= set(tables)


def test_dev_prints_the_webhook_url_and_its_generated_secret(dev_run: DevRun) -> None:
    result = relink("dev", "--port", "8123")
    secret = DEV_WEBHOOK_SECRET_FILE.read_text()
    assert secret.startswith("whsec_")
    assert "http://127.0.0.1:8123/webhooks/stripe" in result.output
    assert f"webhook secret:  {secret}  (kept in var/dev-webhook-secret)" in result.output
    assert dev_run.served[0].env["STRIPE_WEBHOOK_SECRETS"] == secret


def test_dev_keeps_its_generated_secret_and_link_key(dev_run: DevRun) -> None:
    assert relink("dev").exit_code == 0
    assert relink("dev").exit_code == 0
    first, second = dev_run.served
    assert first.env["STRIPE_WEBHOOK_SECRETS"] == second.env["STRIPE_WEBHOOK_SECRETS"]
    assert first.env["LINK_SIGNING_KEYS"] == second.env["LINK_SIGNING_KEYS"]
    assert first.env["LINK_SIGNING_KEYS"] == DEV_LINK_KEY_FILE.read_text()
    assert len(first.env["LINK_SIGNING_KEYS"]) >= 32


def test_dev_uses_the_secrets_it_is_given_and_prints_none(
    dev_run: DevRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "whsec_from_stripe_listen")
    monkeypatch.setenv("LINK_SIGNING_KEYS", "my-own-link-key-01")
    result = relink("dev")
    assert result.exit_code == 0, result.output
    assert "whsec_from_stripe_listen" not in result.output
    assert "as set in STRIPE_WEBHOOK_SECRETS" in result.output
    assert dev_run.served[0].env["LINK_SIGNING_KEYS"] == "my-own-link-key-01"
    assert not DEV_WEBHOOK_SECRET_FILE.exists()
    assert not DEV_LINK_KEY_FILE.exists()


def test_dev_with_a_stripe_key_starts_no_simulator(
    dev_run: DevRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_mine")
    assert relink("dev").exit_code == 0
    assert [s.args[2] for s in dev_run.started] == ["celery"]
    assert dev_run.served[0].env["STRIPE_API_KEY"] == "sk_test_mine"


def test_dev_serves_docs_and_metrics(dev_run: DevRun) -> None:
    assert relink("dev").exit_code == 0
    env = dev_run.served[0].env
    assert (env["EXPOSE_DOCS"], env["METRICS_ENABLED"]) == ("true", "true")


def test_dev_exits_2_naming_a_bad_setting(dev_run: DevRun, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_URL", "carrier-pigeon://loft")
    result = relink("dev")
    assert result.exit_code == 2
    assert "EMAIL_URL" in result.output
    assert (dev_run.started, dev_run.served) == ([], [])  # nothing left running


def test_migrate_brings_the_database_to_head() -> None:
    result = relink("migrate")
    assert (result.exit_code, result.output.strip()) == (0, "database migrated")
    assert "webhook_event" in inspect(get_engine()).get_table_names()
