"""The `relink` command: `relink dev` (embedded default) and `relink migrate` (dev.py),
`relink demo` (a scripted story on it), and the operator command groups (one module each:
events, cases, emails, webhooks, doctor, keys).

Every command prints a readable table, or JSON with `--json`; a failure exits non-zero
(1: refused, not found or a failed check; 2: invalid configuration)."""

from __future__ import annotations

import typer

from cli.cases import cases_cli
from cli.demo import demo
from cli.dev import dev, migrate
from cli.doctor import doctor
from cli.emails import emails_cli
from cli.events import events_cli
from cli.keys import keys_cli
from cli.webhooks import webhooks_cli

cli = typer.Typer(help="relink: keep Stripe Financial Connections bank links alive.")
cli.command("dev")(dev)
cli.command("migrate")(migrate)
cli.command("demo")(demo)
cli.add_typer(events_cli, name="events")
cli.add_typer(cases_cli, name="cases")
cli.add_typer(emails_cli, name="emails")
cli.add_typer(webhooks_cli, name="webhooks")
cli.add_typer(keys_cli, name="keys")
cli.command("doctor")(doctor)


def main() -> None:
    cli()
