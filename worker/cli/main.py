"""The `relink` command: `relink dev` (embedded default), `relink demo` (a scripted story on
it), `relink migrate`, and the operator command groups (one module each: events, cases,
emails, doctor).

Every command prints a readable table, or JSON with `--json`; a failure exits non-zero
(1: refused, not found or a failed check; 2: invalid configuration)."""

from __future__ import annotations

import typer
import uvicorn

from worker.cli.cases import cases_cli
from worker.cli.demo import demo
from worker.cli.doctor import doctor
from worker.cli.emails import emails_cli
from worker.cli.embedded import DEV_WEBHOOK_SECRET_FILE, start_embedded
from worker.cli.events import events_cli
from worker.cli.output import settings_or_exit
from worker.emails.smtp import masked_url

cli = typer.Typer(help="relink: keep Stripe Financial Connections bank links alive.")
cli.add_typer(events_cli, name="events")
cli.add_typer(cases_cli, name="cases")
cli.add_typer(emails_cli, name="emails")
cli.command("doctor")(doctor)
cli.command("demo")(demo)


@cli.command()
def migrate() -> None:
    """Bring the database at DATABASE_URL to the newest schema."""
    from shared import migrate as migrations

    settings = settings_or_exit()
    migrations.upgrade(settings.database_url)
    typer.echo("database migrated")


@cli.command()
def dev(
    host: str = "127.0.0.1",
    port: int = 8000,
    sim_port: int = typer.Option(12111, help="port of the bundled Stripe simulator"),
) -> None:
    """Run relink on the embedded default: SQLite, a file broker, a worker beside the API,
    emails as files and, without STRIPE_API_KEY, the bundled Stripe simulator."""
    embedded = start_embedded(host, port, sim_port)
    settings = embedded.settings
    typer.echo(
        f"\nrelink is running (embedded default)\n"
        f"  webhook URL:     {embedded.webhook_url}\n"
        f"  webhook secret:  {embedded.webhook_secret}"
        f"  (kept in {DEV_WEBHOOK_SECRET_FILE})\n"
        f"  stripe listen --forward-to localhost:{port}/webhooks/stripe\n"
        f"  database:        {settings.database_url}\n"
        f"  emails:          {masked_url(settings.email_url)}\n"
        f"  Stripe API:      {settings.stripe_api_base}\n"
    )
    try:
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, log_level="info")
    finally:
        embedded.stop()


def main() -> None:
    cli()
