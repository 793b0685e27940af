"""The embedded default's processes, shared by `relink dev` and `relink demo`: the bundled
Stripe simulator (without STRIPE_API_KEY), the migrated SQLite database and a worker with
beat beside the API."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from shared.settings import VAR_DIR, Settings
from worker.cli.output import settings_or_exit

DEV_WEBHOOK_SECRET_FILE = VAR_DIR / "dev-webhook-secret"


def dev_webhook_secret() -> str:
    if not DEV_WEBHOOK_SECRET_FILE.exists():
        DEV_WEBHOOK_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        DEV_WEBHOOK_SECRET_FILE.write_text("whsec_" + secrets.token_hex(24))
    return DEV_WEBHOOK_SECRET_FILE.read_text().strip()


@dataclass
class Embedded:
    settings: Settings
    webhook_url: str
    sim_base: str | None
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def webhook_secret(self) -> str:
        return os.environ["STRIPE_WEBHOOK_SECRETS"].split(",")[0]

    def stop(self) -> None:
        for child in self.children:
            child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def start_embedded(
    host: str, port: int, sim_port: int, *, output: IO[bytes] | None = None
) -> Embedded:
    """Start the simulator (unless STRIPE_API_KEY is set), migrate, start the worker; the
    caller serves the API on host:port. Children write to `output` (default: inherited)."""
    VAR_DIR.mkdir(exist_ok=True)
    if "STRIPE_WEBHOOK_SECRETS" not in os.environ:
        os.environ["STRIPE_WEBHOOK_SECRETS"] = dev_webhook_secret()
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")
    webhook_url = f"http://{host}:{port}/webhooks/stripe"
    children: list[subprocess.Popen[bytes]] = []
    sim_base = None
    if "STRIPE_API_KEY" not in os.environ:
        sim_base = f"http://127.0.0.1:{sim_port}"
        secret = os.environ["STRIPE_WEBHOOK_SECRETS"].split(",")[0]
        sim = [sys.executable, "-m", "sim", "--port", str(sim_port)]
        sim += ["--webhook-url", webhook_url, "--webhook-secret", secret]
        children.append(subprocess.Popen(sim, stdout=output, stderr=output))
        os.environ.update(
            STRIPE_API_KEY="sk_test_sim",
            STRIPE_API_BASE=sim_base,
            STRIPE_PUBLISHABLE_KEY="pk_test_sim",
            STRIPE_JS_URL=f"{sim_base}/_sim/stripe.js",
        )
    settings = settings_or_exit()
    from shared import migrate as migrations

    migrations.upgrade(settings.database_url)
    worker = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--beat"]
    worker += ["--pool", "solo", "--loglevel", "INFO"]
    worker += ["--schedule", str(Path(VAR_DIR, "celerybeat-schedule"))]
    children.append(subprocess.Popen(worker, stdout=output, stderr=output))
    return Embedded(settings, webhook_url, sim_base, children)
