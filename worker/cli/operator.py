"""Operator commands mounted into `relink`: `events list|show|replay`, `cases list|show`,
`emails resend` and `doctor`.

Every command prints a readable table, or JSON with `--json`; a failure exits non-zero
(1: refused, not found or a failed check; 2: invalid configuration).
"""

from __future__ import annotations

import json
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from sqlalchemy import func, or_, text
from sqlmodel import Session, col, select

from shared import outbox, queue
from shared.db import session_scope, utcnow
from shared.inbox import forget_enqueue
from shared.models import (
    CaseState,
    EmailOutbox,
    EventStatus,
    FcAccount,
    FcAuthorization,
    RelinkAttempt,
    RelinkCase,
    WebhookEvent,
)
from shared.queue import events_task, publish_after_commit
from shared.settings import ConfigError, Settings, load_settings

events_cli = typer.Typer(help="Inbox events: list, show and replay (dead letters).")
cases_cli = typer.Typer(help="Relink cases: list and show (a timeline).")
emails_cli = typer.Typer(help="Relink emails: resend a fresh link.")

JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]

# The events a relink webhook endpoint must deliver, and those it should.
REQUIRED_EVENT_TYPES = (
    "financial_connections.account.deactivated",
    "financial_connections.account.reactivated",
)
RECOMMENDED_EVENT_TYPES = (
    "financial_connections.account.upcoming_deactivation",
    "financial_connections.account.expected_deactivation_date_updated",
    "financial_connections.account.disconnected",
)
WEBHOOK_PATH = "/webhooks/stripe"


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


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


def _echo_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


# ---------------------------------------------------------------------------- events


def event_summary(row: WebhookEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "status": row.status,
        "attempts": row.attempts,
        "livemode": row.livemode,
        "created": row.created,
        "received_at": _iso(row.received_at),
        "processed_at": _iso(row.processed_at),
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
    _settings()
    query = select(WebhookEvent).order_by(col(WebhookEvent.received_at).desc()).limit(limit)
    if status is not None:
        query = query.where(col(WebhookEvent.status) == status.value)
    if event_type:
        query = query.where(col(WebhookEvent.type) == event_type)
    with session_scope() as session:
        rows = [event_summary(row) for row in session.exec(query)]
    if as_json:
        _echo_json(rows)
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
    _settings()
    with session_scope() as session:
        row = session.get(WebhookEvent, event_id)
        if row is None:
            raise _fail(f"no event {event_id} in the inbox")
        detail = {
            **event_summary(row),
            "api_version": row.api_version,
            "account": row.account,
            "enqueued_at": _iso(row.enqueued_at),
            "payload": json.loads(row.payload) if row.payload else None,
        }
    if as_json:
        _echo_json(detail)
        return
    fields = [(key, value) for key, value in detail.items() if key != "payload"]
    typer.echo(render_table(("field", "value"), fields))
    payload = detail["payload"]
    typer.echo("\npayload:" if payload is not None else "\npayload: pruned (retention)")
    if payload is not None:
        typer.echo(json.dumps(payload, indent=2))


@dataclass
class ReplayOutcome:
    id: str
    outcome: str  # queued, stored (the redrive queues it), refused, missing
    detail: str
    previous_status: str | None = None


REPLAYABLE = (EventStatus.DEAD, EventStatus.FAILED, EventStatus.RECEIVED)


def reset_for_replay(event_id: str, *, force: bool) -> ReplayOutcome:
    """Put one event back to `received` (committed) so process_event runs it again.

    Dead, failed and still-received events are replayed; processed and ignored ones only with
    `force` (handlers are idempotent, so a forced replay repeats no email or state change);
    an event whose payload retention pruned cannot be replayed.
    """
    with session_scope() as session:
        row = session.exec(
            select(WebhookEvent).where(col(WebhookEvent.id) == event_id).with_for_update()
        ).first()
        if row is None:
            return ReplayOutcome(event_id, "missing", "no such event in the inbox")
        previous = row.status
        if row.payload is None:
            return ReplayOutcome(event_id, "refused", "payload pruned by retention", previous)
        if previous not in REPLAYABLE and not force:
            return ReplayOutcome(
                event_id, "refused", f"already {previous}; --force replays it anyway", previous
            )
        row.status = EventStatus.RECEIVED
        row.processed_at = None
        row.enqueued_at = utcnow()
        session.add(row)
        outcome = ReplayOutcome(event_id, "queued", f"was {previous}", previous)
        publish_after_commit(
            session, *events_task([event_id]), on_failure=lambda exc: _stored(outcome, exc)
        )
    return outcome


def _stored(outcome: ReplayOutcome, exc: Exception) -> None:
    """The publish failed: the event stays `received` with no enqueue time, for the redrive."""
    with session_scope() as session:
        forget_enqueue(session, [outcome.id])
    outcome.outcome = "stored"
    outcome.detail += f"; broker unavailable ({type(exc).__name__}), redrive queues it"


def replay_events(event_ids: list[str], *, force: bool) -> list[ReplayOutcome]:
    """Reset each event and publish it after its commit; a publish that fails leaves the
    event `received` with no enqueue time, so the redrive queues it when the broker is back."""
    return [reset_for_replay(event_id, force=force) for event_id in event_ids]


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
    _settings()
    if (event_id is None) == (not all_dead):
        raise _fail("give either EVT_ID or --all-dead")
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
        _echo_json([asdict(o) for o in outcomes])
    elif not outcomes:
        typer.echo("no dead events")
    else:
        rows = [(o.id, o.outcome, o.detail) for o in outcomes]
        typer.echo(render_table(("id", "outcome", "detail"), rows))
    if any(o.outcome in ("refused", "missing") for o in outcomes):
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- cases


def mask_email(address: str | None) -> str | None:
    """`ada@example.com` → `a***@example.com`: enough to tell addresses apart, not to mail."""
    if not address:
        return address
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def case_summary(case: RelinkCase, institution: str | None) -> dict[str, Any]:
    return {
        "id": case.id,
        "state": case.state,
        "institution": institution,
        "authorization_id": case.authorization_id,
        "account_id": case.account_id,
        "cause": case.cause,
        "action": case.action,
        "opened_at": _iso(case.opened_at),
        "last_heard_at": _iso(case.last_heard_at),
        "resolved_at": _iso(case.resolved_at),
        "resolution": case.resolution,
        "emails_sent": case.emails_sent,
        "next_reminder_at": _iso(case.next_reminder_at),
    }


@cases_cli.command("list")
def list_cases(
    state: Annotated[CaseState | None, typer.Option("--state", help="only this state")] = None,
    institution: Annotated[
        str | None, typer.Option("--institution", help="only this bank (any case)")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="how many")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List cases, most recently heard of first."""
    _settings()
    query = (
        select(RelinkCase, FcAuthorization.institution_name)
        .join(
            FcAuthorization,
            col(FcAuthorization.id) == col(RelinkCase.authorization_id),
            isouter=True,
        )
        .order_by(col(RelinkCase.last_heard_at).desc(), col(RelinkCase.id).desc())
        .limit(limit)
    )
    if state is not None:
        query = query.where(col(RelinkCase.state) == state.value)
    if institution:
        query = query.where(
            func.lower(col(FcAuthorization.institution_name)) == institution.lower()
        )
    with session_scope() as session:
        rows = [case_summary(case, bank) for case, bank in session.exec(query)]
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        typer.echo("no cases")
        return
    table = [
        (
            r["id"],
            r["state"],
            r["institution"],
            r["authorization_id"],
            r["opened_at"],
            r["last_heard_at"],
            r["emails_sent"],
            r["resolution"],
        )
        for r in rows
    ]
    headers = ("id", "state", "institution", "authorization", "opened", "last heard", "emails")
    typer.echo(render_table((*headers, "resolution"), table))


def _case_events(session: Session, case: RelinkCase, account_ids: list[str]) -> list[WebhookEvent]:
    """Inbox events naming the case's authorization or one of its accounts (payload search;
    an event whose payload retention pruned can no longer be found)."""
    needles = [case.authorization_id, *account_ids]
    query = (
        select(WebhookEvent)
        .where(or_(*(col(WebhookEvent.payload).contains(f'"{n}"') for n in needles)))
        .order_by(col(WebhookEvent.received_at))
    )
    return list(session.exec(query))


def case_timeline(case_id: int) -> dict[str, Any] | None:
    """The case, its accounts and a timeline of its events, emails and relink attempts."""
    with session_scope() as session:
        case = session.get(RelinkCase, case_id)
        if case is None:
            return None
        authorization = session.get(FcAuthorization, case.authorization_id)
        accounts = list(
            session.exec(
                select(FcAccount)
                .where(col(FcAccount.authorization_id) == case.authorization_id)
                .order_by(col(FcAccount.id))
            )
        )
        events = _case_events(session, case, [a.id for a in accounts])
        emails = list(
            session.exec(
                select(EmailOutbox)
                .where(col(EmailOutbox.case_id) == case_id)
                .order_by(col(EmailOutbox.id))
            )
        )
        attempts = list(
            session.exec(
                select(RelinkAttempt)
                .where(col(RelinkAttempt.case_id) == case_id)
                .order_by(col(RelinkAttempt.id))
            )
        )
        entries: list[tuple[datetime, dict[str, Any]]] = [
            (case.opened_at, {"kind": "case", "id": case.id, "what": "opened", "detail": ""})
        ]
        if case.resolved_at is not None:
            entries.append(
                (
                    case.resolved_at,
                    {
                        "kind": "case",
                        "id": case.id,
                        "what": "resolved",
                        "detail": case.resolution or "",
                    },
                )
            )
        for event in events:
            detail = f"{event.status}, attempts {event.attempts}"
            if event.last_error:
                detail += f", {event.last_error[:80]}"
            entries.append(
                (
                    event.received_at,
                    {"kind": "event", "id": event.id, "what": event.type, "detail": detail},
                )
            )
        for email in emails:
            entries.append(
                (
                    email.sent_at or email.send_after,
                    {
                        "kind": "email",
                        "id": email.id,
                        "what": email.kind,
                        "detail": f"{email.status}, attempts {email.attempts}",
                        "status": email.status,
                        "send_after": _iso(email.send_after),
                        "sent_at": _iso(email.sent_at),
                        "attempts": email.attempts,
                        "recipient": mask_email(email.recipient),
                        "last_error": email.last_error,
                    },
                )
            )
        for attempt in attempts:
            entries.append(
                (
                    attempt.created_at,
                    {
                        "kind": "attempt",
                        "id": attempt.session_id,
                        "what": f"relink session ({attempt.mode})",
                        "detail": attempt.result or "open",
                        "mode": attempt.mode,
                        "result": attempt.result,
                        "completed_at": _iso(attempt.completed_at),
                    },
                )
            )
        entries.sort(key=lambda entry: entry[0])
        return {
            "case": case_summary(case, authorization.institution_name if authorization else None),
            "accounts": [
                {
                    "id": a.id,
                    "status": a.status,
                    "display_name": a.display_name,
                    "last4": a.last4,
                    "inactive_cause": a.inactive_cause,
                    "inactive_action": a.inactive_action,
                }
                for a in accounts
            ],
            "timeline": [{"at": _iso(at), **entry} for at, entry in entries],
        }


@cases_cli.command("show")
def show_case(
    case_id: Annotated[int, typer.Argument(metavar="CASE_ID")], as_json: JsonFlag = False
) -> None:
    """Show one case: its accounts and a timeline of events, emails and relink attempts."""
    _settings()
    detail = case_timeline(case_id)
    if detail is None:
        raise _fail(f"no case {case_id}")
    if as_json:
        _echo_json(detail)
        return
    typer.echo(render_table(("field", "value"), list(detail["case"].items())))
    typer.echo("\naccounts:")
    accounts = [
        (a["id"], a["status"], a["display_name"], a["last4"], a["inactive_cause"])
        for a in detail["accounts"]
    ]
    typer.echo(render_table(("account", "status", "name", "last4", "cause"), accounts))
    typer.echo("\ntimeline:")
    timeline = [(e["at"], e["kind"], e["id"], e["what"], e["detail"]) for e in detail["timeline"]]
    typer.echo(render_table(("at", "kind", "id", "what", "detail"), timeline))


# ---------------------------------------------------------------------------- emails

RESEND_REFUSALS = {
    "missing": "no case {case_id}",
    "not_open": "case {case_id} is {state}: there is nothing to relink, no email queued",
    "rate_limited": (
        "case {case_id} got a fresh link less than {interval}s ago "
        "(FRESH_LINK_INTERVAL_SECONDS): not queued again"
    ),
}


def resend_fresh_link(case_id: int) -> tuple[str, str | None]:
    """Queue a fresh relink email through the worker's own path (one outbox row, sent by
    `relink.send_email` under the SMTP rate limit). Returns the outcome and the case state."""
    with session_scope() as session:
        outcome = outbox.request_fresh_link(session, case_id)
        case = session.get(RelinkCase, case_id)
        state = case.state if case is not None else None
    return outcome, state


@emails_cli.command("resend")
def resend(
    case_id: Annotated[int, typer.Argument(metavar="CASE_ID")], as_json: JsonFlag = False
) -> None:
    """Queue a fresh relink email for an open case (the same limits as the page's button)."""
    settings = _settings()
    outcome, state = resend_fresh_link(case_id)
    refusal = RESEND_REFUSALS.get(outcome)
    detail = (
        refusal.format(case_id=case_id, state=state, interval=settings.fresh_link_interval_seconds)
        if refusal
        else f"a fresh relink email for case {case_id} is queued"
    )
    if as_json:
        _echo_json({"case_id": case_id, "outcome": outcome, "state": state, "detail": detail})
    elif refusal:
        typer.echo(detail, err=True)
    else:
        typer.echo(render_table(("case", "outcome", "detail"), [(case_id, outcome, detail)]))
    if refusal:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- doctor


@dataclass
class Check:
    name: str
    status: str  # ok, warn, fail, skip
    detail: str


def check_database(settings: Settings) -> Check:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from shared.db import get_engine
    from shared.migrate import alembic_config

    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:
        return Check("database", "fail", f"unreachable: {type(exc).__name__}")
    heads = set(ScriptDirectory.from_config(alembic_config(settings.database_url)).get_heads())
    if current != heads:
        have = ", ".join(sorted(current)) or "none"
        return Check(
            "database",
            "fail",
            f"at revision {have}, head is {', '.join(sorted(heads))}: run `relink migrate`",
        )
    return Check("database", "ok", f"reachable, migrated to head ({', '.join(sorted(heads))})")


def check_broker(settings: Settings) -> Check:
    error = queue.check_broker()
    if error is not None:
        return Check("broker", "fail", f"unreachable: {error}")
    scheme = settings.celery_broker_url.split("://", 1)[0]
    return Check("broker", "ok", f"{scheme}:// reachable")


def check_email(settings: Settings) -> Check:
    url = settings.email_url
    if url.startswith("console://"):
        return Check("email", "warn", "console:// prints emails; nobody receives them")
    if url.startswith("file://"):
        folder = Path(url.removeprefix("file://"))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".relink-doctor"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            return Check("email", "fail", f"{folder} is not writable: {type(exc).__name__}")
        return Check("email", "warn", f"file:// writes emails to {folder}; nobody receives them")
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port or 25
    try:
        with smtplib.SMTP(host, port, timeout=5) as smtp:
            code, _ = smtp.noop()
    except (OSError, smtplib.SMTPException) as exc:
        return Check("email", "fail", f"SMTP {host}:{port} unreachable: {type(exc).__name__}")
    if code != 250:
        return Check("email", "fail", f"SMTP {host}:{port} answered NOOP with {code}")
    return Check("email", "ok", f"SMTP {host}:{port} answers")


def check_stripe_key(settings: Settings) -> Check:
    key = settings.stripe_api_key
    if key is None:
        return Check("stripe key", "fail", "STRIPE_API_KEY is not set")
    value = key.get_secret_value()
    kind = "restricted" if value.startswith("rk_") else "secret"
    mode = "live" if settings.livemode else "test"
    detail = f"{mode} mode ({kind} key), {settings.stripe_requests_per_second:g} requests/s"
    return Check("stripe key", "ok", detail)


def fetch_webhook_endpoints(settings: Settings) -> list[dict[str, Any]]:
    """Every webhook endpoint of the account (GET /v1/webhook_endpoints, all pages)."""
    from shared.stripe_client import make_stripe_client

    client = make_stripe_client(settings)
    page = client.v1.webhook_endpoints.list(params={"limit": 100})
    return [endpoint.to_dict() for endpoint in page.auto_paging_iter()]


def webhook_url(settings: Settings) -> str:
    return settings.public_base_url.rstrip("/") + WEBHOOK_PATH


def check_webhook_endpoint(
    settings: Settings,
    fetch: Callable[[Settings], list[dict[str, Any]]] = fetch_webhook_endpoints,
) -> Check:
    """A webhook endpoint for PUBLIC_BASE_URL/webhooks/stripe, enabled, delivering the FC
    events, on a preview API version, and not a Connect endpoint."""
    import stripe

    if settings.stripe_api_key is None:
        return Check("webhook endpoint", "skip", "no STRIPE_API_KEY to ask Stripe with")
    expected = webhook_url(settings)
    try:
        endpoints = fetch(settings)
    except stripe.StripeError as exc:
        status = getattr(exc, "http_status", None)
        message = (exc.user_message or type(exc).__name__)[:200]
        return Check(
            "webhook endpoint", "fail", f"GET /v1/webhook_endpoints failed ({status}): {message}"
        )
    mine = [e for e in endpoints if str(e.get("url", "")).rstrip("/") == expected]
    if not mine:
        urls = ", ".join(sorted(str(e.get("url")) for e in endpoints)) or "none"
        return Check("webhook endpoint", "fail", f"none points at {expected} (endpoints: {urls})")
    endpoint = next((e for e in mine if e.get("status") == "enabled"), mine[0])
    problems: list[str] = []
    warnings: list[str] = []
    if endpoint.get("status") != "enabled":
        problems.append(f"status is {endpoint.get('status')}")
    enabled = set(endpoint.get("enabled_events") or [])
    if "*" not in enabled:
        if missing := [t for t in REQUIRED_EVENT_TYPES if t not in enabled]:
            problems.append("missing events " + ", ".join(missing))
        if missing := [t for t in RECOMMENDED_EVENT_TYPES if t not in enabled]:
            warnings.append("not enabled: " + ", ".join(missing))
    version = endpoint.get("api_version")
    if not (isinstance(version, str) and version.endswith(".preview")):
        warnings.append(
            f"API version {version or 'account default'} is not a preview version: each "
            "event costs an extra account retrieve"
        )
    if endpoint.get("connect") or endpoint.get("application"):
        problems.append("it is a Connect endpoint (events of connected accounts)")
    if endpoint.get("livemode") is not None and endpoint.get("livemode") != settings.livemode:
        problems.append("its mode differs from the key's")
    where = f"{endpoint.get('id')} → {expected}"
    if problems:
        return Check("webhook endpoint", "fail", f"{where}: " + "; ".join(problems + warnings))
    if warnings:
        return Check("webhook endpoint", "warn", f"{where}: " + "; ".join(warnings))
    return Check("webhook endpoint", "ok", f"{where}, FC events, {version}")


def run_checks() -> list[Check]:
    try:
        settings = load_settings()
    except ConfigError as exc:
        return [Check("settings", "fail", str(exc))]
    checks = [Check("settings", "ok", "loaded")]
    for check in (
        check_database,
        check_broker,
        check_email,
        check_stripe_key,
        check_webhook_endpoint,
    ):
        try:
            checks.append(check(settings))
        except Exception as exc:  # a doctor reports; it does not crash
            checks.append(Check(check.__name__.removeprefix("check_"), "fail", repr(exc)[:200]))
    return checks


def doctor(as_json: JsonFlag = False) -> None:
    """Check settings, database, broker, email, the Stripe key and the webhook endpoint."""
    checks = run_checks()
    failed = any(check.status == "fail" for check in checks)
    if as_json:
        _echo_json({"ok": not failed, "checks": [asdict(check) for check in checks]})
    else:
        rows = [(check.name, check.status.upper(), check.detail) for check in checks]
        typer.echo(render_table(("check", "status", "detail"), rows))
    if failed:
        raise typer.Exit(1)


def mount(cli: typer.Typer) -> None:
    """Add the operator commands to the `relink` command."""
    cli.add_typer(events_cli, name="events")
    cli.add_typer(cases_cli, name="cases")
    cli.add_typer(emails_cli, name="emails")
    cli.command("doctor")(doctor)
