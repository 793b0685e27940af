"""The `relink` command: `relink dev` (embedded default), `relink migrate`, and the operator
command groups (one module each: events, cases, emails, doctor).

Every command prints a readable table, or JSON with `--json`; a failure exits non-zero
(1: refused, not found or a failed check; 2: invalid configuration)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import typer
import uvicorn

from shared.settings import VAR_DIR
from worker.cli.cases import cases_cli
from worker.cli.doctor import doctor
from worker.cli.emails import emails_cli
from worker.cli.events import events_cli
from worker.cli.output import settings_or_exit

cli = typer.Typer(help="relink: keep Stripe Financial Connections bank links alive.")
cli.add_typer(events_cli, name="events")
cli.add_typer(cases_cli, name="cases")
cli.add_typer(emails_cli, name="emails")
cli.command("doctor")(doctor)
DEV_WEBHOOK_SECRET_FILE = VAR_DIR / "dev-webhook-secret"


@cli.command()
def migrate() -> None:
    """Bring the database at DATABASE_URL to the newest schema."""
    from shared import migrate as migrations

    settings = settings_or_exit()
    migrations.upgrade(settings.database_url)
    typer.echo("database migrated")


def _dev_webhook_secret() -> str:
    if not DEV_WEBHOOK_SECRET_FILE.exists():
        DEV_WEBHOOK_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        DEV_WEBHOOK_SECRET_FILE.write_text("whsec_" + secrets.token_hex(24))
    return DEV_WEBHOOK_SECRET_FILE.read_text().strip()


@cli.command()
def dev(
    host: str = "127.0.0.1",
    port: int = 8000,
    sim_port: int = typer.Option(12111, help="port of the bundled Stripe simulator"),
) -> None:
    """Run relink on the embedded default: SQLite, a file broker, a worker beside the API,
    emails as files and, without STRIPE_API_KEY, the bundled Stripe simulator."""
    VAR_DIR.mkdir(exist_ok=True)
    if "STRIPE_WEBHOOK_SECRETS" not in os.environ:
        os.environ["STRIPE_WEBHOOK_SECRETS"] = _dev_webhook_secret()
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")
    webhook_url = f"http://{host}:{port}/webhooks/stripe"
    children: list[subprocess.Popen[bytes]] = []
    if "STRIPE_API_KEY" not in os.environ:
        sim_base = f"http://127.0.0.1:{sim_port}"
        secret = os.environ["STRIPE_WEBHOOK_SECRETS"].split(",")[0]
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sim",
                    "--port",
                    str(sim_port),
                    "--webhook-url",
                    webhook_url,
                    "--webhook-secret",
                    secret,
                ]
            )
        )
        os.environ.update(
            STRIPE_API_KEY="sk_test_sim",
            STRIPE_API_BASE=sim_base,
            STRIPE_PUBLISHABLE_KEY="pk_test_sim",
            STRIPE_JS_URL=f"{sim_base}/_sim/stripe.js",
        )
    settings = settings_or_exit()
    from shared import migrate as migrations

    migrations.upgrade(settings.database_url)
    children.append(
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "worker",
                "worker",
                "--beat",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--schedule",
                str(Path(VAR_DIR, "celerybeat-schedule")),
            ]
        )
    )
    typer.echo(
        f"\nrelink is running (embedded default)\n"
        f"  webhook URL:     {webhook_url}\n"
        f"  webhook secret:  {os.environ['STRIPE_WEBHOOK_SECRETS'].split(',')[0]}"
        f"  (kept in {DEV_WEBHOOK_SECRET_FILE})\n"
        f"  stripe listen --forward-to localhost:{port}/webhooks/stripe\n"
        f"  database:        {settings.database_url}\n"
        f"  emails:          {settings.email_url}\n"
        f"  Stripe API:      {settings.stripe_api_base}\n"
    )
    try:
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, log_level="info")
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=10)


def main() -> None:
    cli()
