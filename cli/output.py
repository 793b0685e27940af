"""What every operator command shares: settings or exit 2, failures exit 1, tables, JSON,
times to the second."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import typer

from shared import db
from shared.settings import ConfigError, Settings, load_settings

JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


def iso(value: datetime | None) -> str | None:
    """To the second: an operator reads it."""
    return db.iso(value, timespec="seconds")


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain, aligned text table (no colour: it reads the same in a terminal and a log)."""
    cells = [[str("" if value is None else value) for value in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def echo_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))
