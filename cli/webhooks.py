"""`relink webhooks`: the platform webhooks outbox — list deliveries by status, show one with
its attempts, replay failed ones, send a test event; the endpoint's standing (`status`) and
enabling it after it was disabled (`enable`: its held deliveries then go out in order)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import JsonFlag, echo_json, fail, iso, render_table, settings_or_exit
from shared.db import session_scope, utcnow
from shared.events.catalog import DELIVER_PLATFORM_EVENT
from shared.platform_webhooks import endpoint
from shared.platform_webhooks.models import EVENT_STATUSES, PlatformEvent
from shared.queue import publish_after_commit
from worker.platform_webhooks import repository, service

webhooks_cli = typer.Typer(
    help="Platform webhooks: deliveries, attempts, replays, a test event, the endpoint."
)
STATUSES = ", ".join(EVENT_STATUSES)


def _summary(row: PlatformEvent) -> dict[str, object]:
    return {
        "id": row.id,
        "webhook_id": row.webhook_id,
        "type": row.type,
        "case_id": row.case_id,
        "sequence": row.sequence,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": iso(row.next_attempt_at),
        "last_error": row.last_error,
        "created_at": iso(row.created_at),
    }


@webhooks_cli.command("list")
def list_deliveries(
    status: Annotated[str | None, typer.Option(help=STATUSES)] = None,
    limit: int = 50,
    as_json: JsonFlag = False,
) -> None:
    """The newest deliveries, optionally of one status."""
    settings_or_exit()
    if status is not None and status not in EVENT_STATUSES:
        raise fail(f"unknown status {status!r}: {STATUSES}")
    with session_scope() as session:
        rows = [_summary(r) for r in repository.events(session, status=status, limit=limit)]
    if as_json:
        echo_json(rows)
        return
    columns = ("id", "type", "case_id", "sequence", "status", "attempts", "last_error")
    typer.echo(render_table(columns, [[r[c] for c in columns] for r in rows]))


@webhooks_cli.command("show")
def show(event_id: int, as_json: JsonFlag = False) -> None:
    """One delivery, its payload as stored (the link is signed at delivery) and its attempts."""
    settings_or_exit()
    with session_scope() as session:
        row = session.get(PlatformEvent, event_id)
        if row is None:
            raise fail(f"no platform event {event_id}")
        summary = {**_summary(row), "payload": row.payload}
        attempts = [
            {
                "started_at": iso(a.started_at),
                "duration_ms": a.duration_ms,
                "status_code": a.status_code,
                "error": a.error,
                "response_body": a.response_body,
            }
            for a in repository.attempts_of(session, event_id)
        ]
    if as_json:
        echo_json({**summary, "attempts": attempts})
        return
    typer.echo(render_table(("field", "value"), list(summary.items())))
    columns = ("started_at", "duration_ms", "status_code", "error", "response_body")
    typer.echo(render_table(columns, [[a[c] for c in columns] for a in attempts]))


@webhooks_cli.command("replay")
def replay(
    event_id: Annotated[
        int | None, typer.Argument(help="one failed event; omit with --all")
    ] = None,
    all_failed: Annotated[bool, typer.Option("--all", help="every failed event")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Deliver failed events again (same webhook-id, a fresh retry window)."""
    settings_or_exit()
    if (event_id is None) == (not all_failed):
        raise fail("give one EVENT_ID or --all")
    with session_scope() as session:
        replayed = repository.replay(session, event_id=event_id, now=utcnow())
        for replayed_id in replayed:
            publish_after_commit(session, DELIVER_PLATFORM_EVENT, [replayed_id])
    if as_json:
        echo_json({"replayed": replayed})
    else:
        typer.echo(f"{len(replayed)} failed event(s) queued again: {replayed}")
    if event_id is not None and not replayed:
        raise fail(f"platform event {event_id} is not failed: nothing replayed")


@webhooks_cli.command("test")
def send_test(as_json: JsonFlag = False) -> None:
    """Write a `relink.test` event; it is delivered like any other."""
    settings = settings_or_exit()
    if not settings.platform_webhooks:
        raise fail("PLATFORM_WEBHOOK_URL is not set")
    event_id = service.send_test_event()
    if as_json:
        echo_json({"id": event_id})
    else:
        typer.echo(f"relink.test queued as platform event {event_id}")


@webhooks_cli.command("status")
def status(as_json: JsonFlag = False) -> None:
    """The endpoint: enabled or disabled (since when), failing since, held deliveries."""
    settings = settings_or_exit()
    with session_scope() as session:
        standing = endpoint.status(session)
    shown = {
        "state": "disabled" if standing.disabled else "enabled",
        "disabled_at": iso(standing.disabled_at),
        "failing_since": iso(standing.failing_since),
        "last_delivered_at": iso(standing.last_delivered_at),
        "enabled_at": iso(standing.enabled_at),
        "held": standing.held,
        "disable_after_hours": settings.platform_webhook_disable_after_hours,
    }
    if as_json:
        echo_json(shown)
        return
    typer.echo(render_table(("field", "value"), list(shown.items())))
    if standing.disabled:
        typer.echo("Disabled: fix the endpoint, then `relink webhooks enable`.")


@webhooks_cli.command("enable")
def enable(as_json: JsonFlag = False) -> None:
    """Enable a disabled endpoint: its held deliveries go out, in order per case or account."""
    settings_or_exit()
    with session_scope() as session:
        released = endpoint.enable(session, now=utcnow())
    if released is None:
        raise fail("the platform endpoint is not disabled: nothing to enable")
    if as_json:
        echo_json({"released": released})
    else:
        typer.echo(f"enabled; {len(released)} held delivery(ies) queued first, the rest follow")
