"""The embedded default's processes, shared by `relink dev` and `relink demo`: the bundled
Stripe simulator (without STRIPE_API_KEY), the migrated SQLite database and a worker with
beat beside the API.

What it keeps in var/ (a generated webhook secret and link-signing key, the database, emails,
broker files) is its owner's alone (0600, umask 077), and the simulator gets its webhook
secret in its environment: a command line is visible to every user in `ps`."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from cli.output import settings_or_exit
from shared.settings import VAR_DIR, Settings

DEV_WEBHOOK_SECRET_FILE = VAR_DIR / "dev-webhook-secret"
DEV_LINK_KEY_FILE = VAR_DIR / "dev-link-signing-key"
SIM_SECRET_VARIABLE = "SIM_WEBHOOK_SECRET"  # noqa: S105 (a name; `python -m sim` reads it)


def private_secret(path: Path, generate: Callable[[], str]) -> str:
    """The secret kept in `path`: created owner-only (0600) on first use, and made 0600 again
    if an older relink left it readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        path.chmod(0o600)
    else:
        with os.fdopen(fd, "w") as file:
            file.write(generate())
    return path.read_text().strip()


def make_sqlite_private(database_url: str) -> None:
    """A SQLite database file made before the umask (an older `relink dev`) becomes 0600;
    SQLite gives its journals the database file's mode."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(str(url.database))
        if path.exists():
            path.chmod(0o600)


@dataclass
class Embedded:
    settings: Settings
    webhook_url: str
    sim_base: str | None
    generated_secret: str | None  # the webhook secret made here; None when one was given
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def webhook_secret(self) -> str:
        return os.environ["STRIPE_WEBHOOK_SECRETS"].split(",")[0].strip()

    def stop(self) -> None:
        for child in self.children:
            child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def _fill_environment(host: str, port: int, sim_port: int) -> tuple[str | None, str | None]:
    """Set what the embedded default needs and the environment lacks (the API and the
    children read it). Returns the webhook secret generated (None when one was given) and
    the simulator's base URL (None when STRIPE_API_KEY names a real Stripe)."""
    generated_secret = None
    if "STRIPE_WEBHOOK_SECRETS" not in os.environ:
        generated_secret = private_secret(
            DEV_WEBHOOK_SECRET_FILE, lambda: "whsec_" + secrets.token_hex(24)
        )
        os.environ["STRIPE_WEBHOOK_SECRETS"] = generated_secret
    if "LINK_SIGNING_KEYS" not in os.environ:
        os.environ["LINK_SIGNING_KEYS"] = private_secret(
            DEV_LINK_KEY_FILE, lambda: secrets.token_urlsafe(32)
        )
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")
    os.environ.setdefault("EXPOSE_DOCS", "true")
    os.environ.setdefault("METRICS_ENABLED", "true")
    # No proxy in front: uvicorn would otherwise believe any loopback peer's X-Forwarded-For.
    os.environ.setdefault("FORWARDED_ALLOW_IPS", "")
    if "STRIPE_API_KEY" in os.environ:
        return generated_secret, None
    sim_base = f"http://127.0.0.1:{sim_port}"
    os.environ.update(
        STRIPE_API_KEY="sk_test_sim",
        STRIPE_API_BASE=sim_base,
        STRIPE_PUBLISHABLE_KEY="pk_test_sim",
        STRIPE_JS_URL=f"{sim_base}/_sim/stripe.js",
    )
    return generated_secret, sim_base


def start_embedded(
    host: str, port: int, sim_port: int, *, output: IO[bytes] | None = None
) -> Embedded:
    """Fill in the environment, migrate, then start the simulator (unless STRIPE_API_KEY is
    set) and the worker; the caller serves the API on host:port. Invalid settings exit 2
    before any child starts. Children write to `output` (default: inherited)."""
    os.umask(0o077)
    VAR_DIR.mkdir(exist_ok=True)
    generated_secret, sim_base = _fill_environment(host, port, sim_port)
    settings = settings_or_exit()
    from shared import migrate as migrations

    migrations.upgrade(settings.database_url)
    make_sqlite_private(settings.database_url)
    webhook_url = f"http://{host}:{port}/webhooks/stripe"
    embedded = Embedded(settings, webhook_url, sim_base, generated_secret)
    if sim_base is not None:
        sim = [sys.executable, "-m", "sim", "--port", str(sim_port), "--webhook-url", webhook_url]
        env = {**os.environ, SIM_SECRET_VARIABLE: embedded.webhook_secret}
        embedded.children.append(subprocess.Popen(sim, stdout=output, stderr=output, env=env))
    worker = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--beat"]
    worker += ["--pool", "solo", "--loglevel", "INFO"]
    worker += ["--schedule", str(Path(VAR_DIR, "celerybeat-schedule"))]
    embedded.children.append(subprocess.Popen(worker, stdout=output, stderr=output))
    return embedded
