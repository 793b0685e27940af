"""`relink cases list|show`: cases and one case's merged timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy import func
from sqlmodel import col, select

from cli.output import (
    JsonFlag,
    echo_json,
    fail,
    iso,
    render_table,
    settings_or_exit,
)
from shared.cases import timeline
from shared.cases.contacts import mask_email
from shared.cases.timeline import Entry
from shared.db import session_scope
from shared.models import CaseState, FcAccount, FcAuthorization, RelinkCase

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
            (col(FcAuthorization.id) == col(RelinkCase.authorization_id))
            & (col(FcAuthorization.stripe_account) == col(RelinkCase.stripe_account)),
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


def _entry_json(entry: Entry) -> dict[str, Any]:
    """An entry as the CLI shows it: the operator's details, an email's address masked."""
    extra = {k: iso(v) if isinstance(v, datetime) else v for k, v in entry.extra.items()}
    detail = entry.detail
    if entry.kind == "event":
        error = extra.pop("last_error", None)
        detail += f", {error[:80]}" if error else ""
    if entry.kind == "email":
        extra["recipient"] = entry.recipient and mask_email(entry.recipient)
    return {
        "at": iso(entry.at),
        "kind": entry.kind,
        "id": entry.id,
        "what": entry.what,
        "detail": detail,
        **extra,
    }


def case_timeline(case_id: int) -> dict[str, Any] | None:
    """The case, its accounts and a timeline of its events, emails, relink attempts and
    payment method switch (shared/cases/timeline.py)."""
    with session_scope() as session:
        case = session.get(RelinkCase, case_id)
        if case is None:
            return None
        authorization = session.get(FcAuthorization, (case.authorization_id, case.stripe_account))
        accounts = list(
            session.exec(
                select(FcAccount)
                .where(col(FcAccount.authorization_id) == case.authorization_id)
                .where(col(FcAccount.stripe_account) == case.stripe_account)
                .order_by(col(FcAccount.id))
            )
        )
        entries = timeline.case_timeline(session, case, [a.id for a in accounts])
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
            "timeline": [_entry_json(entry) for entry in entries],
        }


@cases_cli.command("show")
def show_case(
    case_id: Annotated[int, typer.Argument(metavar="CASE_ID")], as_json: JsonFlag = False
) -> None:
    """Show one case: its accounts and a timeline of events, emails, relink attempts and
    payment method switch."""
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
