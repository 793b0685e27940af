"""The relink page's reads and writes: its case, the attempts made from its link, and what a
stored attempt already says. Helpers take a database session and never commit."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from api.relink_page.fc_sessions import bank_of
from api.relink_page.outcomes import (
    Failed,
    NewAccount,
    Outcome,
    PaymentMethodSaved,
    Reconnected,
    Start,
    UnknownCase,
    UnknownSession,
    Unrepairable,
)
from shared.cases.links import LinkPayload
from shared.db import utcnow
from shared.models import (
    OPEN_CASE_STATES,
    CaseState,
    FcAccount,
    RelinkAttempt,
    RelinkCase,
)
from shared.stripe_objects import AccountStatus

SUCCEEDED = ("account", "authorization", "payment_method")
# An attempt without a result younger than this has its session read back from Stripe (by
# its stored id: the client secret is never stored) and reused while Stripe says it is open.
# Stripe's sessions carry no expiry; this bounds how old a session the page hands out.
REUSE_SESSION_FOR = timedelta(minutes=30)


def load_case(db: Session, payload: LinkPayload, *, lock: bool = False) -> RelinkCase:
    case = db.get(RelinkCase, payload.case_id, with_for_update=lock)
    if case is None or (case.authorization_id, case.stripe_account) != (
        payload.authorization_id,
        payload.stripe_account,
    ):
        raise UnknownCase(f"case {payload.case_id} does not exist")
    return case


def reconcile_args(case: RelinkCase, authorization_id: str | None = None) -> list[object]:
    """relink.reconcile_authorization's arguments after a relink: the authorization, and for
    a connected account's case the trigger (worker.cases.reconcile.RELINK) and the account."""
    args: list[object] = [authorization_id or case.authorization_id]
    return [*args, "relink", case.stripe_account] if case.stripe_account else args


def attempts_of(db: Session, case_id: int | None) -> list[RelinkAttempt]:
    query = select(RelinkAttempt).where(RelinkAttempt.case_id == case_id)
    return list(db.exec(query.order_by(col(RelinkAttempt.id))))


def find_attempt(db: Session, case: RelinkCase, **where: str) -> RelinkAttempt:
    query = select(RelinkAttempt).where(RelinkAttempt.case_id == case.id)
    for column, value in where.items():
        query = query.where(getattr(RelinkAttempt, column) == value)
    attempt = db.exec(query).first()
    if attempt is None:
        raise UnknownSession("no attempt of this link has that id")
    return attempt


def finish(attempt: RelinkAttempt, result: str) -> None:
    attempt.result = result
    attempt.completed_at = utcnow()


def next_mode(tried: list[RelinkAttempt]) -> str:
    """`authorization` (any checking or savings account at the bank) once relinking this
    account found it gone (`no_account`); `account` before."""
    gone = any(a.mode == "account" and a.result == "no_account" for a in tried)
    return "authorization" if gone else "account"


def reusable(tried: list[RelinkAttempt], mode: str, now: datetime) -> RelinkAttempt | None:
    """The latest attempt, if it is of this mode, unfinished and young enough to reuse."""
    latest = tried[-1] if tried else None
    if latest is None or latest.mode != mode or latest.result is not None:
        return None
    return latest if now - latest.created_at < REUSE_SESSION_FOR else None


def can_go_on(case: RelinkCase, attempt: RelinkAttempt | None = None) -> bool:
    """Whether a step may call Stripe or write: while the case is open, and for an attempt
    opened before the case resolved (its own relink is usually what resolved it: the
    reactivation events can beat the browser's POST, and a new account it linked still has to
    be saved). An unrepairable case, or a session asked for after the end, goes no further."""
    if case.state in OPEN_CASE_STATES:
        return True
    return (
        attempt is not None
        and case.state == CaseState.RESOLVED
        and case.resolved_at is not None
        and attempt.created_at <= case.resolved_at
    )


def closed(case: RelinkCase, account: FcAccount | None) -> Outcome:
    """The page of a case that is no longer open."""
    if case.state == CaseState.RESOLVED:
        return Reconnected(bank_of(account))
    return Unrepairable(bank_of(account))


def replaced_by_new(accounts: list[FcAccount], asked_about: str, new_id: str) -> list[FcAccount]:
    """What a new account linked from this case takes the place of: the account the link
    asked about (the bank no longer has it) and every other one of the authorization still
    down. Stripe may reactivate them after such a relink or leave them inactive; either way
    relink does not ask the customer about them again."""
    return [
        a
        for a in accounts
        if a.id != new_id
        and a.replaced_by is None
        and (a.id == asked_about or a.status == AccountStatus.INACTIVE)
    ]


def mark_replaced(db: Session, case: RelinkCase, asked_about: str, new_id: str) -> list[str]:
    """Record the replacement on the stored accounts of the case's authorization; their ids."""
    query = select(FcAccount).where(
        FcAccount.authorization_id == case.authorization_id,
        FcAccount.stripe_account == case.stripe_account,
    )
    replaced = replaced_by_new(list(db.exec(query.with_for_update())), asked_about, new_id)
    for account in replaced:
        account.replaced_by = new_id
        db.add(account)
    return sorted(a.id for a in replaced)


def recorded(attempt: RelinkAttempt, account: FcAccount | None) -> Outcome:
    """What a finished attempt's page was, from the row alone (a replay calls nobody)."""
    bank = bank_of(account)
    if attempt.result in SUCCEEDED or attempt.payment_method_id:
        return PaymentMethodSaved(bank) if attempt.payment_method_id else Reconnected(bank)
    if attempt.result == "new_account":
        return NewAccount(bank, attempt.session_id, None)
    if attempt.result == "no_account" and attempt.mode == "account":
        return Start(bank, "authorization")
    return Failed(bank, attempt.result or "other")
