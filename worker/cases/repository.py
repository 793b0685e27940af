"""The cases domain's queries and row locks. Nothing here commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from shared.connect import current_account
from shared.db import utcnow
from shared.ids import assign_id, plan_inserts
from shared.models import (
    OPEN_CASE_STATES,
    CaseState,
    FcAccount,
    FcAuthorization,
    RelinkCase,
    WebhookEvent,
)
from worker.cases.core.classification import Deactivation

# session.info key: rows locked up front by lock_up_front, outside any savepoint, by (model,
# Stripe account, id); the dict keeps them referenced, so the session's weak identity map
# cannot drop them. (RelinkCase, Stripe account, authorization id) holds the list of that
# authorization's cases not yet over, locked, plus those inserted since: the cases queries
# below answer from it without a query (nor the autoflush one would cost).
_HELD = "relink.held_rows"
# (Stripe account, id) of an authorization or an account; '' is the platform's own.
Key = tuple[str, str]


def _insert_authorizations(session: Session, keys: list[Key]) -> None:
    now = utcnow()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(FcAuthorization)
        .values([{"stripe_account": a, "id": i, "state_at": 0, "updated_at": now} for a, i in keys])
        .on_conflict_do_nothing(index_elements=["id", "stripe_account"])
    )


def lock_up_front(session: Session, authorization_keys: set[Key], account_keys: set[Key]) -> None:
    """Lock a batch's authorizations (inserting the new ones), their cases not yet over, then
    its accounts, each in (Stripe account, id) order, one statement per Stripe account. Two
    batches that share authorizations then wait for each other instead of deadlocking, and
    lock_authorization / lock_account / open_case_of find each row held without a query."""
    held: dict[tuple[type, str, str], object] = session.info.setdefault(_HELD, {})
    if authorization_keys:
        _insert_authorizations(session, sorted(authorization_keys))
        plan_inserts(session, len(authorization_keys))
    for model, keys in ((FcAuthorization, authorization_keys), (FcAccount, account_keys)):
        for stripe_account in sorted({a for a, _ in keys}):
            ids = sorted(i for a, i in keys if a == stripe_account)
            found = {
                row.id: row
                for row in session.exec(
                    select(model)
                    .where(col(model.stripe_account) == stripe_account, col(model.id).in_(ids))
                    .order_by(col(model.id))
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            }
            for found_id in ids:
                held[(model, stripe_account, found_id)] = found.get(found_id)
            if model is FcAuthorization:
                _hold_cases(session, held, stripe_account, ids)


def _hold_cases(
    session: Session, held: dict[tuple[type, str, str], object], stripe_account: str, ids: list[str]
) -> None:
    """Lock and keep the authorizations' open and unrepairable cases (the emails' worker
    changes a case under its row lock, not the authorization's)."""
    cases: dict[str, list[RelinkCase]] = {i: [] for i in ids}
    for case in session.exec(
        select(RelinkCase)
        .where(
            RelinkCase.stripe_account == stripe_account,
            col(RelinkCase.authorization_id).in_(ids),
            or_(
                col(RelinkCase.state).in_(OPEN_CASE_STATES),
                (col(RelinkCase.state) == CaseState.UNREPAIRABLE)
                & col(RelinkCase.resolved_at).is_(None),
            ),
        )
        .order_by(col(RelinkCase.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    ):
        cases[case.authorization_id].append(case)
    for authorization_id, found in cases.items():
        held[(RelinkCase, stripe_account, authorization_id)] = found


def _held_cases(session: Session, authorization_id: str) -> list[RelinkCase] | None:
    """The authorization's cases held by lock_up_front (None if it was not), less those a
    rolled-back savepoint inserted (no longer in the session)."""
    found = session.info.get(_HELD, {}).get((RelinkCase, current_account(), authorization_id))
    return None if found is None else [case for case in found if case in session]


def lock_authorization(session: Session, authorization_id: str) -> FcAuthorization:
    """Insert the authorization (of the acting Stripe account) if new, then lock its row: one
    authorization's events take turns, so siblings cannot both open a case or both write its
    email."""
    stripe_account = current_account()
    held = session.info.get(_HELD, {}).get((FcAuthorization, stripe_account, authorization_id))
    if isinstance(held, FcAuthorization):
        return held
    _insert_authorizations(session, [(stripe_account, authorization_id)])
    return session.exec(
        select(FcAuthorization)
        .where(FcAuthorization.id == authorization_id)
        .where(FcAuthorization.stripe_account == stripe_account)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def lock_account(session: Session, account_id: str) -> FcAccount | None:
    """The account's row (of the acting Stripe account), locked (None if not stored yet)."""
    held = session.info.get(_HELD, {})
    key = (FcAccount, current_account(), account_id)
    if key in held:
        found = held[key]
        if isinstance(found, FcAccount):
            return found
        del held[key]  # absent when locked up front; after this call the caller may insert it
        return None
    return session.exec(
        select(FcAccount)
        .where(FcAccount.id == account_id, FcAccount.stripe_account == current_account())
        .with_for_update()
    ).first()


def accounts_of(session: Session, authorization_id: str) -> list[FcAccount]:
    """The stored accounts of an authorization, by last4 then id (the order emails name them)."""
    return list(
        session.exec(
            select(FcAccount)
            .where(FcAccount.authorization_id == authorization_id)
            .where(FcAccount.stripe_account == current_account())
            .order_by(col(FcAccount.last4), col(FcAccount.id))
        ).all()
    )


def open_case_of(session: Session, authorization_id: str) -> RelinkCase | None:
    held = _held_cases(session, authorization_id)
    if held is not None:
        return next((case for case in held if case.state in OPEN_CASE_STATES), None)
    return session.exec(
        select(RelinkCase).where(
            RelinkCase.stripe_account == current_account(),
            RelinkCase.authorization_id == authorization_id,
            col(RelinkCase.state).in_(OPEN_CASE_STATES),
        )
    ).first()


def unrepairable_case_of(session: Session, authorization_id: str) -> RelinkCase | None:
    held = _held_cases(session, authorization_id)
    if held is not None:
        return next(
            (c for c in held if c.state == CaseState.UNREPAIRABLE and c.resolved_at is None), None
        )
    return session.exec(
        select(RelinkCase).where(
            RelinkCase.stripe_account == current_account(),
            RelinkCase.authorization_id == authorization_id,
            RelinkCase.state == CaseState.UNREPAIRABLE,
            col(RelinkCase.resolved_at).is_(None),
        )
    ).first()


def insert_case(
    session: Session,
    authorization_id: str,
    account_id: str,
    deactivation: Deactivation,
    state: CaseState,
    now: datetime,
) -> tuple[RelinkCase, bool]:
    """Insert a case; if a concurrent transaction opened one first (the unique partial index
    on open cases), join that one instead. Returns the case and whether it is new. A case of
    an authorization held by lock_up_front cannot race (its cases are known and locked): it
    gets its id now and is inserted with the batch's others at the next flush."""
    case = RelinkCase(  # every default-factory field given: pydantic inspects them per call
        stripe_account=current_account(),
        authorization_id=authorization_id,
        account_id=account_id,
        state=state,
        cause=deactivation.cause,
        action=deactivation.action,
        opened_at=now,
        last_heard_at=now,
        updated_at=now,
    )
    held = session.info.get(_HELD, {}).get((RelinkCase, current_account(), authorization_id))
    if isinstance(held, list):
        assign_id(session, case, "relink_case")
        session.add(case)
        held.append(case)
        return case, True
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        existing = open_case_of(session, authorization_id)
        if existing is None:
            raise
        return existing, False
    return case, True


def event_created(session: Session, event_id: str) -> int | None:
    """Stripe time of an inbox event (None for a trigger that is not an event id)."""
    return session.exec(select(WebhookEvent.created).where(WebhookEvent.id == event_id)).first()
