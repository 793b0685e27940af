"""docker-compose.yml (no Docker engine here): its services, commands and variables agree
with the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from api.ops.settings import OpsSettings
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
RELINK_SERVICES = ("migrate", "api", "worker", "beat")


def test_the_production_services_are_there() -> None:
    assert {"api", "worker", "beat", "redis", "postgres", "migrate", "mailpit"} <= set(SERVICES)


def test_commands_start_what_the_code_provides() -> None:
    assert SERVICES["migrate"]["command"] == ["relink", "migrate"]
    assert SERVICES["api"]["command"][:3] == ["uvicorn", "api.app:create_app", "--factory"]
    assert SERVICES["worker"]["command"][:4] == ["celery", "-A", "worker", "worker"]
    assert SERVICES["beat"]["command"][:4] == ["celery", "-A", "worker", "beat"]


# Read outside shared/settings/: the dashboard's own settings, and process-level variables.
OUTSIDE_SETTINGS = {name.upper() for name in OpsSettings.model_fields} | {
    "PROMETHEUS_MULTIPROC_DIR",  # prometheus_client
    "WORKER_METRICS_PORT",  # worker/celery_app.py
    "WORKER_METRICS_HOST",
    "FORWARDED_ALLOW_IPS",  # uvicorn: the reverse proxy whose X-Forwarded-For is believed
    "LOG_FORMAT",  # shared/logging.py
}


def test_relink_variables_are_exactly_settings_names() -> None:
    fields = {name.upper() for name in Settings.model_fields} | OUTSIDE_SETTINGS
    for name in RELINK_SERVICES:
        assert set(SERVICES[name]["environment"]) <= fields, name
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "STRIPE_WEBHOOK_SECRETS"} <= set(
        SERVICES["api"]["environment"]
    )


def test_secrets_are_required_not_defaulted() -> None:
    env = SERVICES["api"]["environment"]
    for name in ("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRETS", "LINK_SIGNING_KEYS"):
        assert env[name].startswith("${" + name + ":?"), name
    assert ":?" in env["DATABASE_URL"]


def test_migrations_run_before_api_and_worker_on_healthy_services() -> None:
    for name in ("api", "worker"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("postgres", "redis", "api"):
        assert "healthcheck" in SERVICES[name], name


RABBITMQ: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.rabbitmq.yml").read_text())


def test_the_rabbitmq_variant_moves_the_broker_and_keeps_the_limits_in_redis() -> None:
    services = RABBITMQ["services"]
    fields = {name.upper() for name in Settings.model_fields}
    for name in ("api", "worker", "beat", "flower"):
        env = services[name]["environment"]
        assert set(env) <= fields, name
        assert env["CELERY_BROKER_URL"].startswith("amqp://relink:${RABBITMQ_PASSWORD:?"), name
        assert env["RATE_LIMIT_REDIS_URL"].startswith("redis://redis:"), name
        assert name in SERVICES  # an override of a base service, not a new one
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    rabbit = services["rabbitmq"]
    assert rabbit["environment"]["RABBITMQ_DEFAULT_PASS"].startswith("${RABBITMQ_PASSWORD:?")
    assert "healthcheck" in rabbit
    assert "ports" not in rabbit  # the broker is not published on the host
    assert "redis" in SERVICES  # the limiter's Redis comes from the base file
