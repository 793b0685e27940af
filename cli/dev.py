"""`relink dev` (the embedded default, started by embedded.py, with the API in this process)
and `relink migrate`."""

from __future__ import annotations

import signal

import typer
import uvicorn

from cli.embedded import DEV_WEBHOOK_SECRET_FILE, Embedded, start_embedded
from cli.output import settings_or_exit
from shared.urls import masked_url


def migrate() -> None:
    """Bring the database at DATABASE_URL to the newest schema."""
    from shared import migrate as migrations

    settings = settings_or_exit()
    migrations.upgrade(settings.database_url)
    typer.echo("database migrated")
    for warning in migrations.stale_session_warnings(settings.database_url):
        typer.echo(f"warning: {warning}", err=True)


def banner(embedded: Embedded, port: int) -> str:
    """What `relink dev` prints once everything is started: URLs without their passwords, and
    the webhook secret only when it generated it."""
    settings = embedded.settings
    secret = (
        f"{embedded.generated_secret}  (kept in {DEV_WEBHOOK_SECRET_FILE})"
        if embedded.generated_secret
        else "as set in STRIPE_WEBHOOK_SECRETS"
    )
    return (
        f"\nrelink is running (embedded default)\n"
        f"  webhook URL:     {embedded.webhook_url}\n"
        f"  webhook secret:  {secret}\n"
        f"  stripe listen --forward-to localhost:{port}/webhooks/stripe\n"
        f"  database:        {masked_url(settings.database_url)}\n"
        f"  broker:          {masked_url(settings.celery_broker_url)}\n"
        f"  emails:          {masked_url(settings.email_url)}\n"
        f"  Stripe API:      {masked_url(settings.stripe_api_base)}\n"
    )


def _exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def dev(
    host: str = "127.0.0.1",
    port: int = 8000,
    sim_port: int = typer.Option(12111, help="port of the bundled Stripe simulator"),
) -> None:
    """Run relink on the embedded default: SQLite, a file broker, a worker beside the API,
    emails as files and, without STRIPE_API_KEY, the bundled Stripe simulator."""
    embedded = start_embedded(host, port, sim_port)
    # uvicorn re-raises a SIGTERM it caught once it has shut down, under the handler it
    # found: with the default one the process dies before `finally` stops the children.
    signal.signal(signal.SIGTERM, _exit)
    try:
        typer.echo(banner(embedded, port))
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, log_level="info")
    finally:
        embedded.stop()
