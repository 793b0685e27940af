"""Integration fixtures: real PostgreSQL, a real Redis server, real api and worker processes.

A service that cannot be reached fails the test; nothing here skips.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from shared import migrate
from sim.testing import SimServer, run_sim_server
from tests.conftest import WEBHOOK_SECRET
from tests.integration.smtp import SmtpSink
from tests.integration.stack import RedisServer, Stack, TcpProxy, running
from tests.platform_webhooks import receiver as platform_receiver

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = os.environ.get("RELINK_TEST_PG", f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test")
TABLES = (
    "relink_attempt, email_outbox, relink_case, fc_account, fc_authorization, webhook_event, "
    "platform_event_attempt, platform_event, platform_sequence, platform_endpoint"
)

OPS_TOKEN = "integration-ops-token"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


def migrated_database(prefix: str) -> Iterator[str]:
    """A fresh, migrated database named for this process, dropped afterwards; its name.
    An unreachable PostgreSQL fails the test."""
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    name = f"{prefix}_{os.getpid()}"
    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {name}")
    migrate.upgrade(f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}")
    yield name
    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    yield from migrated_database("relink_it")


@pytest.fixture(scope="session")
def pg_proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy(PG_HOST, PG_PORT)
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except (OSError, AssertionError) as exc:
        pytest.fail(f"cannot start redis-server: {exc}")
    yield server
    server.stop()


def rabbitmqctl(*args: str) -> None:
    try:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"RabbitMQ is not reachable at 127.0.0.1:5672 (rabbitmqctl {args[0]}): {exc}")


@pytest.fixture
def rabbitmq_url() -> Iterator[str]:
    """A fresh virtual host of RabbitMQ (127.0.0.1:5672, guest) for this test, deleted after."""
    vhost = f"relink_it_{os.getpid()}"
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True, timeout=60)
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
def pg(pg_database: str) -> Iterator[psycopg.Connection]:
    """A direct connection to the test database, emptied before the test."""
    with psycopg.connect(
        f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{pg_database}", autocommit=True
    ) as conn:
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        yield conn


@pytest.fixture
def sim() -> Iterator[SimServer]:
    """The Stripe simulator over HTTP, rate limiter off; `stack` points its webhooks at the api."""
    with run_sim_server(webhook_secret=WEBHOOK_SECRET, rate_limit_per_second=0) as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) that keeps every message it receives."""
    with SmtpSink.running() as sink:
        yield sink


@pytest.fixture
def receiver() -> Iterator[platform_receiver.Receiver]:
    """The platform's endpoint: verifies every delivery with the standardwebhooks library."""
    with platform_receiver.running() as started:
        yield started


@pytest.fixture
def stack_env() -> dict[str, str]:
    """Extra environment for the api and workers; a test module overrides this fixture."""
    return {}


@pytest.fixture
def stack(
    stack_env: dict[str, str],
    pg: psycopg.Connection,
    pg_database: str,
    pg_proxy: TcpProxy,
    redis_server: RedisServer,
    sim: SimServer,
    smtp: SmtpSink,
    tmp_path: Path,
) -> Iterator[Stack]:
    """The api against PostgreSQL (through the proxy), Redis, the simulator and the SMTP sink;
    workers on demand. The simulator delivers its webhooks to this api."""
    if redis_server.process is None:
        redis_server.start()
    pg_proxy.restore()
    import redis

    redis.Redis.from_url(redis_server.url).flushall()
    env = {
        "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{pg_proxy.port}/{pg_database}",
        "CELERY_BROKER_URL": redis_server.url,
        "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "STRIPE_API_KEY": sim.api_key,
        "STRIPE_API_BASE": sim.base_url,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_sim",
        "STRIPE_JS_URL": f"{sim.base_url}/_sim/stripe.js",
        "LINK_SIGNING_KEYS": "integration-link-key",
        "OPS_TOKEN": OPS_TOKEN,
        "EMAIL_URL": smtp.url,
        "EMAIL_FROM": "relink <relink@example.com>",
        "REDRIVE_AFTER_SECONDS": "2",
        "REDRIVE_EVERY_SECONDS": "1",
        **stack_env,
    }
    with running(Stack(env, tmp_path)) as started:
        started.env["PUBLIC_BASE_URL"] = started.base_url
        started.start_api()
        sim.client.configure_webhooks(f"{started.base_url}/webhooks/stripe", WEBHOOK_SECRET)
        yield started
        print(started.logs())
