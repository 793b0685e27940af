"""`relink events list|show|replay`: the inbox, and dead letters put back."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer
from sqlmodel import col, select

from cli.output import (
    JsonFlag,
    echo_json,
    fail,
    iso,
    render_table,
    settings_or_exit,
)
from shared.db import session_scope
from shared.events.replay import replay_events
from shared.models import (
    EventStatus,
    WebhookEvent,
)

events_cli = typer.Typer(help="Inbox events: list, show and replay (dead letters).")


def event_summary(row: WebhookEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "status": row.status,
        "attempts": row.attempts,
        "livemode": row.livemode,
        "created": row.created,
        "received_at": iso(row.received_at),
        "processed_at": iso(row.processed_at),
        "last_error": row.last_error,
    }


@events_cli.command("list")
def list_events(
    status: Annotated[EventStatus | None, typer.Option("--status", help="only this status")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="only this event type")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="how many")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List inbox events, newest first."""
    settings_or_exit()
    query = select(WebhookEvent).order_by(col(WebhookEvent.received_at).desc()).limit(limit)
    if status is not None:
        query = query.where(col(WebhookEvent.status) == status.value)
    if event_type:
        query = query.where(col(WebhookEvent.type) == event_type)
    with session_scope() as session:
        rows = [event_summary(row) for row in session.exec(query)]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        typer.echo("no events")
        return
    table = [
        (
            r["id"],
            r["type"],
            r["status"],
            r["attempts"],
            r["received_at"],
            (r["last_error"] or "")[:60],
        )
        for r in rows
    ]
    typer.echo(render_table(("id", "type", "status", "attempts", "received", "last error"), table))


@events_cli.command("show")
def show_event(
    event_id: Annotated[str, typer.Argument(metavar="EVT_ID")], as_json: JsonFlag = False
) -> None:
    """Show one inbox event, with its payload (unless retention pruned it)."""
    settings_or_exit()
    with session_scope() as session:
        row = session.get(WebhookEvent, event_id)
        if row is None:
            raise fail(f"no event {event_id} in the inbox")
        detail = {
            **event_summary(row),
            "api_version": row.api_version,
            "account": row.account,
            "enqueued_at": iso(row.enqueued_at),
            "payload": json.loads(row.payload) if row.payload else None,
        }
    if as_json:
        echo_json(detail)
        return
    fields = [(key, value) for key, value in detail.items() if key != "payload"]
    typer.echo(render_table(("field", "value"), fields))
    payload = detail["payload"]
    typer.echo("\npayload:" if payload is not None else "\npayload: pruned (retention)")
    if payload is not None:
        typer.echo(json.dumps(payload, indent=2))


@events_cli.command("replay")
def replay(
    event_id: Annotated[str | None, typer.Argument(metavar="EVT_ID")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="replay every dead event")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="replay processed/ignored events too")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="most with --all-dead")] = 1000,
    as_json: JsonFlag = False,
) -> None:
    """Process an event again: reset it to `received` and queue it (idempotent)."""
    settings_or_exit()
    if (event_id is None) == (not all_dead):
        raise fail("give either EVT_ID or --all-dead")
    if all_dead:
        with session_scope() as session:
            ids = list(
                session.exec(
                    select(WebhookEvent.id)
                    .where(col(WebhookEvent.status) == EventStatus.DEAD)
                    .order_by(col(WebhookEvent.received_at))
                    .limit(limit)
                )
            )
    else:
        assert event_id is not None
        ids = [event_id]
    outcomes = replay_events(ids, force=force)
    if as_json:
        echo_json([asdict(o) for o in outcomes])
    elif not outcomes:
        typer.echo("no dead events")
    else:
        rows = [(o.id, o.outcome, o.detail) for o in outcomes]
        typer.echo(render_table(("id", "outcome", "detail"), rows))
    if any(o.outcome in ("refused", "missing") for o in outcomes):
        raise typer.Exit(1)
