"""`relink keys create|list|revoke`: the platform API's keys. A new key is printed once and
kept only as a hash; listings show its prefix, scopes and last use."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import JsonFlag, echo_json, fail, iso, render_table, settings_or_exit
from shared import api_keys
from shared.db import session_scope
from shared.models import ApiKey

keys_cli = typer.Typer(help="Platform API keys: create (shown once), list, revoke.")


def key_summary(row: ApiKey) -> dict[str, object]:
    return {
        "prefix": row.prefix,
        "name": row.name,
        "scopes": row.scopes,
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at),
        "revoked_at": iso(row.revoked_at),
    }


@keys_cli.command("create")
def create(
    name: Annotated[str, typer.Argument(help="what the key is for, e.g. the platform's app")],
    scopes: Annotated[
        list[str],
        typer.Option("--scope", help=f"repeat for several: {', '.join(api_keys.SCOPES)}"),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Make a key; it is printed this once and cannot be shown again."""
    settings_or_exit()
    try:
        with session_scope() as session:
            row, key = api_keys.create_key(session, name, scopes)
            summary = key_summary(row)
    except api_keys.UnknownScope as exc:
        raise fail(str(exc)) from None
    if as_json:
        echo_json({**summary, "key": key})
        return
    typer.echo(
        render_table(("prefix", "name", "scopes"), [(row.prefix, name, " ".join(row.scopes))])
    )
    typer.echo(f"\nkey (shown once, keep it secret): {key}")


@keys_cli.command("list")
def list_keys(as_json: JsonFlag = False) -> None:
    """Every key: prefix, scopes, last use, revocation (never the key)."""
    settings_or_exit()
    with session_scope() as session:
        rows = api_keys.list_keys(session)
    if as_json:
        echo_json([key_summary(row) for row in rows])
        return
    if not rows:
        typer.echo("no keys")
        return
    headers = ("prefix", "name", "scopes", "created", "last used", "revoked")
    table = [
        (
            row.prefix,
            row.name,
            " ".join(row.scopes),
            iso(row.created_at),
            iso(row.last_used_at),
            iso(row.revoked_at),
        )
        for row in rows
    ]
    typer.echo(render_table(headers, table))


@keys_cli.command("revoke")
def revoke(
    prefix: Annotated[str, typer.Argument(metavar="PREFIX", help="rlk_… as `keys list` shows")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a key: every request with it answers 401 from now on."""
    settings_or_exit()
    with session_scope() as session:
        row = api_keys.revoke_key(session, prefix)
        summary = key_summary(row) if row is not None else None
    if summary is None:
        raise fail(f"no key {prefix}")
    if as_json:
        echo_json(summary)
    else:
        typer.echo(f"key {prefix} revoked")
