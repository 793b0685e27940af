"""`relink cases list|show`: cases and one case's merged timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from shared.db import session_scope
from shared.models import (
    CaseState,
    EmailOutbox,
    FcAccount,
    FcAuthorization,
    RelinkAttempt,
    RelinkCase,
    WebhookEvent,
)
from worker.cli.output import (
    JsonFlag,
    echo_json,
    fail,
    iso,
    mask_email,
    render_table,
    settings_or_exit,
)

cases_cli = typer.Typer(help="Relink cases: list and show (a timeline).")


def case_summary(case: RelinkCase, institution: str | None) -> dict[str, Any]:
    return {
        "id": case.id,
        "state": case.state,
        "institution": institution,
        "authorization_id": case.authorization_id,
        "account_id": case.account_id,
        "cause": case.cause,
        "action": case.action,
        "opened_at": iso(case.opened_at),
        "last_heard_at": iso(case.last_heard_at),
        "resolved_at": iso(case.resolved_at),
        "resolution": case.resolution,
        "emails_sent": case.emails_sent,
        "next_reminder_at": iso(case.next_reminder_at),
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
    settings_or_exit()
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
        echo_json(rows)
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
                        "send_after": iso(email.send_after),
                        "sent_at": iso(email.sent_at),
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
                        "completed_at": iso(attempt.completed_at),
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
            "timeline": [{"at": iso(at), **entry} for at, entry in entries],
        }


@cases_cli.command("show")
def show_case(
    case_id: Annotated[int, typer.Argument(metavar="CASE_ID")], as_json: JsonFlag = False
) -> None:
    """Show one case: its accounts and a timeline of events, emails and relink attempts."""
    settings_or_exit()
    detail = case_timeline(case_id)
    if detail is None:
        raise fail(f"no case {case_id}")
    if as_json:
        echo_json(detail)
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
