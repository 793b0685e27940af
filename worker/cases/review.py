"""What the stored accounts of an authorization mean for its case, after a reconciliation,
a warning or a disconnection: open, keep, resolve, or hand over to the normal flow.

Helpers here never commit; the caller holds the authorization's row lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlmodel import Session

from shared import platform_events, platform_payloads
from shared.db import utcnow
from shared.models import CaseState, EmailKind, FcAccount, FcAuthorization, RelinkCase
from shared.outbox import add_email
from shared.settings import get_settings
from shared.stripe_objects import AccountNumber, AccountStatus, Action
from worker.cases.classification import CauseFamily, Deactivation, classify_deactivation
from worker.cases.repository import accounts_of, insert_case, open_case_of
from worker.cases.service import open_or_join_case, resolve_case

log = structlog.get_logger(__name__)

PROACTIVE_CAUSE = "upcoming_deactivation"
NUMBER_EXPIRY_CAUSE = "upcoming_account_number_expiry"
WARNING_CLEARED = "warning_cleared"
REPLACED = "replaced"


def is_broken(account: FcAccount) -> bool:
    """Inactive and repairable by a relink, and not replaced by a newly linked account."""
    return (
        account.status == AccountStatus.INACTIVE
        and account.inactive_action == Action.RELINK_REQUIRED
        and account.replaced_by is None
    )


def _due_soon(action: str | None, expected: int | None, now: datetime) -> bool:
    if action != Action.RELINK_REQUIRED:
        return False
    return expected is None or expected <= get_settings().horizon_end(now)


def number_of(account: FcAccount) -> AccountNumber:
    return AccountNumber(account.account_number_status, account.account_number_expiry)


def number_due(account: FcAccount, now: datetime) -> bool:
    """Its tokenized account number has stopped working or expires within the horizon."""
    return number_of(account).needs_refresh(get_settings().horizon_end(now))


def is_warned(account: FcAccount, now: datetime) -> bool:
    """Still working, but Stripe expects it to need a relink within the horizon, or its
    tokenized number does (unless the customer already linked another account in its
    place)."""
    return (
        account.replaced_by is None
        and account.status == AccountStatus.ACTIVE
        and (
            _due_soon(account.active_action, account.expected_deactivation_date, now)
            or number_due(account, now)
        )
    )


def warning_cause(account: FcAccount, now: datetime) -> str:
    """Why a working account is warned: its tokenized number alone, or the link itself."""
    if _due_soon(account.active_action, account.expected_deactivation_date, now):
        return PROACTIVE_CAUSE
    return NUMBER_EXPIRY_CAUSE if number_due(account, now) else PROACTIVE_CAUSE


@dataclass(frozen=True)
class Standing:
    """The authorization's accounts that need a relink now, and those that will soon."""

    broken: list[FcAccount]
    warned: list[FcAccount]
    active: list[FcAccount]
    replaced: list[FcAccount]
    """Not working, but a new-account relink linked another in their place."""

    @property
    def accounts_to_relink(self) -> list[FcAccount]:
        """What a relink is for: the broken accounts, else the warned ones (empty: none)."""
        return self.broken or self.warned


def standing_of(session: Session, authorization: FcAuthorization, now: datetime) -> Standing:
    accounts = accounts_of(session, authorization.id)
    active = [a for a in accounts if a.status == AccountStatus.ACTIVE]
    warned = [a for a in active if is_warned(a, now)]
    if (
        not warned
        and authorization.status == AccountStatus.ACTIVE
        and _due_soon(authorization.active_action, authorization.expected_deactivation_date, now)
    ):
        warned = [a for a in active if a.replaced_by is None]  # every working account
    replaced = [a for a in accounts if a.replaced_by and a.status != AccountStatus.ACTIVE]
    return Standing([a for a in accounts if is_broken(a)], warned, active, replaced)


def ending_of(case: RelinkCase, standing: Standing, resolution: str) -> str:
    """How a case with nothing left to repair ends: `replaced` when the account it opened for
    is still not working but the customer linked another in its place (Stripe may leave it
    inactive after a new-account relink), else `resolution`."""
    replaced = any(a.id == case.account_id for a in standing.replaced)
    return REPLACED if replaced else resolution


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
    standing = standing_of(session, authorization, now)
    case = open_case_of(session, authorization.id)
    if standing.broken:
        if case is None or case.state == CaseState.PROACTIVE:
            account = standing.broken[0]
            case, _ = open_or_join_case(
                session,
                authorization_id=authorization.id,
                account_id=account.id,
                deactivation=classify_deactivation(account.inactive_cause, account.inactive_action),
                now=now,
            )
        return case
    if standing.warned:
        if case is None:
            case = open_proactive_case(session, authorization, standing.warned[0], now)
        return case
    if case is None:
        return None
    if case.state == CaseState.PROACTIVE:
        resolve_case(session, case, WARNING_CLEARED, now=now, resolved_by=resolved_by)
        return case
    if live:
        ending = ending_of(case, standing, resolution)
        resolve_case(session, case, ending, now=now, resolved_by=resolved_by)
        if get_settings().reconnected_email and case.emails_sent > 0:
            add_email(session, case, EmailKind.RECONNECTED, send_after=now, key="reconnected")
    return case


def open_proactive_case(
    session: Session, authorization: FcAuthorization, account: FcAccount, now: datetime
) -> RelinkCase:
    """A `proactive` case and its one first email ("reconnect before <date>"), due after the
    quiet period. Its outbox key is that of the relink email: if the account deactivates
    anyway, the case goes on as a normal one without a second first email."""
    cause = warning_cause(account, now)
    warning = Deactivation(cause, Action.RELINK_REQUIRED, CauseFamily.PROACTIVE)
    case, opened = insert_case(
        session, authorization.id, account.id, warning, CaseState.PROACTIVE, now
    )
    if opened:
        send_after = now + timedelta(seconds=get_settings().quiet_period_seconds)
        add_email(session, case, EmailKind.PROACTIVE, send_after=send_after, key="relink", now=now)
        platform_events.record_case_event(session, platform_payloads.CASE_OPENED, case)
        log.info(
            "proactive_case_opened",
            case_id=case.id,
            authorization_id=authorization.id,
            cause=cause,
        )
    return case
