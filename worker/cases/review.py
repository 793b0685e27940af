"""What the stored accounts of an authorization mean for its case, after a reconciliation,
a warning or a disconnection: open, keep, resolve, or hand over to the normal flow.

Helpers here never commit; the caller holds the authorization's row lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlmodel import Session

from shared.db import utcnow
from shared.emails.enqueue import add_email
from shared.models import CaseState, EmailKind, FcAccount, FcAuthorization, RelinkCase
from shared.platform_webhooks import events, payloads
from shared.settings import get_settings
from shared.stripe_objects import Action
from worker.cases.core.classification import Deactivation, EmailTemplate, classify_deactivation
from worker.cases.core.standing import Standing, standing, warning_cause
from worker.cases.core.verdicts import OpenCase, Step, review
from worker.cases.repository import accounts_of, insert_case, open_case_of
from worker.cases.service import open_or_join_case, resolve_case

log = structlog.get_logger(__name__)


def horizon_end(now: datetime) -> int:
    return get_settings().horizon_end(now)


def standing_of(
    session: Session, authorization: FcAuthorization, now: datetime
) -> Standing[FcAccount]:
    return standing(accounts_of(session, authorization.id), authorization, horizon_end(now))


def open_case_view(case: RelinkCase) -> OpenCase:
    return OpenCase(case.state, case.account_id, case.emails_sent)


def review_case(
    session: Session,
    authorization: FcAuthorization,
    *,
    live: bool,
    resolution: str,
    resolved_by: str | None,
    now: datetime | None = None,
) -> RelinkCase | None:
    """Bring the authorization's open case in line with its stored accounts; return it.

    - a broken account and no case (a missed `deactivated`): the normal flow opens one;
    - a warned account and no case: a proactive case with one "reconnect before" email;
    - a proactive case whose warning went away: resolved (`warning_cleared`);
    - a case with nothing left to repair: resolved with `resolution` (`replaced` if a new
      account took the place of those still down), but only when `live` (the accounts were
      just read from the API), since resolving is irreversible.
    """
    now = now or utcnow()
    current = standing_of(session, authorization, now)
    case = open_case_of(session, authorization.id)
    verdict = review(
        current,
        open_case_view(case) if case is not None else None,
        live=live,
        resolution=resolution,
        reconnected_email=get_settings().reconnected_email,
    )
    if verdict.step is Step.OPEN:
        assert verdict.account is not None
        account = verdict.account
        case, _ = open_or_join_case(
            session,
            authorization_id=authorization.id,
            account_id=account.id,
            deactivation=classify_deactivation(account.inactive_cause, account.inactive_action),
            now=now,
        )
    elif verdict.step is Step.OPEN_PROACTIVE:
        assert verdict.account is not None
        case = open_proactive_case(session, authorization, verdict.account, now)
    elif verdict.step is Step.RESOLVE:
        assert case is not None
        ending = verdict.resolution or resolution
        resolve_case(session, case, ending, now=now, resolved_by=resolved_by)
        if verdict.reconnected_email:
            add_email(session, case, EmailKind.RECONNECTED, send_after=now, key="reconnected")
    return case


def open_proactive_case(
    session: Session, authorization: FcAuthorization, account: FcAccount, now: datetime
) -> RelinkCase:
    """A `proactive` case and its one first email ("reconnect before <date>"), due after the
    quiet period. Its outbox key is that of the relink email: if the account deactivates
    anyway, the case goes on as a normal one without a second first email."""
    cause = warning_cause(account, horizon_end(now))
    warning = Deactivation(cause, Action.RELINK_REQUIRED, EmailTemplate.PROACTIVE)
    case, opened = insert_case(
        session, authorization.id, account.id, warning, CaseState.PROACTIVE, now
    )
    if opened:
        send_after = now + timedelta(seconds=get_settings().quiet_period_seconds)
        add_email(session, case, EmailKind.PROACTIVE, send_after=send_after, key="relink", now=now)
        events.record_case_event(session, payloads.CASE_OPENED, case)
        log.info(
            "proactive_case_opened",
            case_id=case.id,
            authorization_id=authorization.id,
            cause=cause,
        )
    return case
