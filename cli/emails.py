"""`relink emails resend`: a fresh link through the page's own path (shared/emails/enqueue.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import (
    JsonFlag,
    echo_json,
    render_table,
    settings_or_exit,
)
from shared.db import session_scope
from shared.emails import enqueue
from shared.models import (
    RelinkCase,
)

emails_cli = typer.Typer(help="Relink emails: resend a fresh link.")


RESEND_REFUSALS = {
    "missing": "no case {case_id}",
    "not_open": "case {case_id} is {state}: there is nothing to relink, no email queued",
    "rate_limited": (
        "case {case_id} got a fresh link less than {interval}s ago "
        "(FRESH_LINK_INTERVAL_SECONDS): not queued again"
    ),
    "daily_cap": "case {case_id} got FRESH_LINK_DAILY_CAP fresh links today: not queued again",
}


def resend_fresh_link(case_id: int) -> tuple[str, str | None]:
    """Queue a fresh relink email through the worker's own path (one outbox row, sent by
    `relink.send_email` under the SMTP rate limit). Returns the outcome and the case state."""
    with session_scope() as session:
        outcome = enqueue.request_fresh_link(session, case_id)
        case = session.get(RelinkCase, case_id)
        state = case.state if case is not None else None
    return outcome, state


@emails_cli.command("resend")
def resend(
    case_id: Annotated[int, typer.Argument(metavar="CASE_ID")], as_json: JsonFlag = False
) -> None:
    """Queue a fresh relink email for an open case (the same limits as the page's button)."""
    settings = settings_or_exit()
    outcome, state = resend_fresh_link(case_id)
    refusal = RESEND_REFUSALS.get(outcome)
    detail = (
        refusal.format(case_id=case_id, state=state, interval=settings.fresh_link_interval_seconds)
        if refusal
        else f"a fresh relink email for case {case_id} is queued"
    )
    if as_json:
        echo_json({"case_id": case_id, "outcome": outcome, "state": state, "detail": detail})
    elif refusal:
        typer.echo(detail, err=True)
    else:
        typer.echo(render_table(("case", "outcome", "detail"), [(case_id, outcome, detail)]))
    if refusal:
        raise typer.Exit(1)
