"""Upgrades without a stop (docs/operating.md): the previous release's own api and worker, from
its commit and its own hashed lock, run on a database this release migrated, and process a
deactivation into one email; `relink migrate` again is a no-op that names the old release's
connections; the schema downgrades to the previous release's and comes back."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from alembic import command

from shared import migrate
from shared.schema_compat import SCHEMA_REVISION
from sim.testing import SimServer
from tests.conftest import WEBHOOK_SECRET
from tests.integration.conftest import PG_HOST, PG_PORT
from tests.integration.smtp import SmtpSink
from tests.integration.stack import ROOT, RedisServer, Stack, running, uvicorn_command, wait_until

# The previous release: main before migration 0014 (its schema 0013_link_revocation).
PREVIOUS_RELEASE = "cdb2f0f"
PREVIOUS_SCHEMA = "0013_link_revocation"
CACHE = ROOT / ".venv-releases"  # built once per machine (.venv-* is ignored by git)


def build_release(commit: str) -> Path:
    """The release's source at `commit` and a venv from its own runtime lock; cached."""
    home = CACHE / commit
    python = home / "venv" / "bin" / "python"
    if (home / "built").exists():
        return home
    source = home / "src"
    source.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run(
        [*pip, "--require-hashes", "-r", str(source / "requirements/runtime.txt")], check=True
    )
    subprocess.run([*pip, "--no-deps", "-e", str(source)], check=True)
    (home / "built").write_text(commit)
    return home


class ReleaseStack(Stack):
    """The api and workers of another release: its python, run from its source."""

    def __init__(self, release: Path, env: dict[str, str], log_dir: Path) -> None:
        super().__init__(env, log_dir)
        self.release = release

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            return subprocess.Popen(
                [str(self.release / "venv/bin/python"), *args[1:]],
                cwd=self.release / "src",
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


@pytest.fixture(scope="module")
def previous_release() -> Path:
    return build_release(PREVIOUS_RELEASE)


@pytest.fixture
def old_stack(
    previous_release: Path,
    pg: psycopg.Connection,
    pg_database: str,
    redis_server: RedisServer,
    sim: SimServer,
    smtp: SmtpSink,
    tmp_path: Path,
) -> Iterator[ReleaseStack]:
    env = {
        "DATABASE_URL": f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{pg_database}",
        "CELERY_BROKER_URL": redis_server.url,
        "RATE_LIMIT_REDIS_URL": redis_server.url,
        "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "STRIPE_API_KEY": sim.api_key,
        "STRIPE_API_BASE": sim.base_url,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_sim",
        "LINK_SIGNING_KEYS": "integration-link-key",
        "EMAIL_URL": smtp.url,
        "EMAIL_FROM": "relink <relink@example.com>",
        "QUIET_PERIOD_SECONDS": "1",
        "EMAIL_SWEEP_EVERY_SECONDS": "1",
    }
    with running(ReleaseStack(previous_release, env, tmp_path)) as started:
        started.env["PUBLIC_BASE_URL"] = started.base_url
        started.start_api()
        started.start_worker()
        sim.client.configure_webhooks(f"{started.base_url}/webhooks/stripe", WEBHOOK_SECRET)
        yield started
        print(started.logs())


def relink_migrate(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "relink"), "migrate"],
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_previous_release_processes_a_deactivation_on_the_migrated_schema(
    old_stack: ReleaseStack,
    pg: psycopg.Connection,
    pg_database: str,
    sim: SimServer,
    smtp: SmtpSink,
) -> None:
    assert pg.execute("SELECT version_num FROM alembic_version").fetchall() == [(SCHEMA_REVISION,)]
    customer = sim.client.create_customer("ada@example.com")["id"]
    authorization = sim.client.create_authorization(
        {"type": "customer", "customer": customer},
        accounts=[{"last4": "6789", "subcategory": "checking"}],
    )
    sim.client.deactivate_authorization(authorization["id"])

    [message] = smtp.wait_for(1, timeout=60)
    assert message["To"] == "ada@example.com"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(rf"{re.escape(old_stack.base_url)}/relink/\S+", text)
    assert link is not None
    page = requests.get(link.group(0), timeout=30)  # the old api serves its page
    assert page.status_code == 200
    assert "6789" in page.text
    wait_until(
        lambda: (
            pg.execute("SELECT state, emails_sent FROM relink_case").fetchall() == [("open", 1)]
        ),
        20,
        "the case to record its email",
    )
    events = pg.execute("SELECT type, status FROM webhook_event ORDER BY type").fetchall()
    assert events == [
        ("financial_connections.account.created", "processed"),
        ("financial_connections.account.deactivated", "processed"),
    ]
    # The old release's cases have an updated_at (its code sets it; 0023 defaults it anyway).
    assert pg.execute("SELECT count(*) FROM relink_case WHERE updated_at IS NULL").fetchone() == (
        0,
    )

    url = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{pg_database}"
    again = relink_migrate(url)
    assert again.returncode == 0, again.stderr
    assert "name no relink release" in again.stderr  # the old api and worker are connected
    assert pg.execute("SELECT version_num FROM alembic_version").fetchall() == [(SCHEMA_REVISION,)]
    assert pg.execute("SELECT state, emails_sent FROM relink_case").fetchall() == [("open", 1)]


def test_the_schema_downgrades_to_the_previous_release_and_comes_back(
    pg: psycopg.Connection, pg_database: str
) -> None:
    url = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{pg_database}"
    try:
        command.downgrade(migrate.alembic_config(url), PREVIOUS_SCHEMA)
        assert pg.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (PREVIOUS_SCHEMA,)
        ]
        assert pg.execute("SELECT to_regclass('schema_compat')").fetchone() == (None,)
    finally:
        migrate.upgrade(url)
    assert pg.execute("SELECT oldest_code_revision FROM schema_compat").fetchall() == [
        (PREVIOUS_SCHEMA,)
    ]


def test_this_release_refuses_to_start_on_a_schema_not_yet_migrated(
    pg: psycopg.Connection, pg_database: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    url = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{pg_database}"
    env = {
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": redis_server.url,
        "RATE_LIMIT_REDIS_URL": redis_server.url,
        "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "STRIPE_API_KEY": "sk_test_unit",
        "LINK_SIGNING_KEYS": "integration-link-key",
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
    }
    command.downgrade(migrate.alembic_config(url), "0021_webhook_operations")
    try:
        with running(Stack(env, tmp_path)) as stack:
            stack.api = stack._spawn("api", uvicorn_command(stack.port, "--factory"))
            worker = stack.start_worker(beat=False)
            assert stack.api.wait(timeout=60) != 0
            assert worker.wait(timeout=60) != 0
            for name in ("api", "worker0"):
                log = (tmp_path / f"{name}.log").read_text()
                assert "the database is at schema 0021_webhook_operations" in log, log[-2000:]
                assert "run `relink migrate` first" in log
    finally:
        migrate.upgrade(url)
