"""What the API reads and writes: cases (listed, one with its accounts and timeline), an
account's standing, a fresh signed link, contacts. Helpers here never commit; the routes'
unit of work does. Full email addresses only for a caller that may see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from api.platform_api import schemas
from shared.cases import timeline
from shared.cases.contacts import mask_email
from shared.cases.links import LinkPayload, link_url
from shared.connect import PLATFORM
from shared.db import utcnow
from shared.models import (
    OPEN_CASE_STATES,
    Contact,
    ContactSubject,
    FcAccount,
    FcAuthorization,
    RelinkCase,
)
from shared.settings import get_settings
from shared.stripe_objects import AccountStatus, Action

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CaseFilters:
    stripe_account: str = PLATFORM  # always applied: the cases of one Stripe account
    state: str | None = None
    customer: str | None = None
    connected_account: str | None = None
    authorization: str | None = None
    institution: str | None = None
    updated_since: datetime | None = None


def _authorizations_held_by(
    holder_type: str, holder_id: str, stripe_account: str
) -> ColumnElement[bool]:
    """The holder's authorizations on `stripe_account` (a holder id is that account's)."""
    by_account = select(FcAccount.authorization_id).where(
        col(FcAccount.stripe_account) == stripe_account,
        col(FcAccount.holder_type) == holder_type,
        col(FcAccount.holder_id) == holder_id,
    )
    by_authorization = select(FcAuthorization.id).where(
        col(FcAuthorization.stripe_account) == stripe_account,
        col(FcAuthorization.holder_type) == holder_type,
        col(FcAuthorization.holder_id) == holder_id,
    )
    return or_(
        col(RelinkCase.authorization_id).in_(by_account),
        col(RelinkCase.authorization_id).in_(by_authorization),
    )


def list_cases(
    session: Session, filters: CaseFilters, *, limit: int, starting_after: int | None
) -> tuple[list[schemas.Case], bool]:
    """The Stripe account's cases, newest first; the page after `starting_after` (a case
    id); and whether more follow."""
    account = filters.stripe_account
    query = (
        select(RelinkCase)
        .where(col(RelinkCase.stripe_account) == account)
        .order_by(col(RelinkCase.id).desc())
        .limit(limit + 1)
    )
    if starting_after is not None:
        query = query.where(col(RelinkCase.id) < starting_after)
    if filters.state:
        query = query.where(col(RelinkCase.state) == filters.state)
    if filters.authorization:
        query = query.where(col(RelinkCase.authorization_id) == filters.authorization)
    if filters.customer:
        query = query.where(_authorizations_held_by("customer", filters.customer, account))
    if filters.connected_account:
        holder = filters.connected_account
        query = query.where(_authorizations_held_by("account", holder, account))
    if filters.institution:
        banks = select(FcAuthorization.id).where(
            col(FcAuthorization.stripe_account) == account,
            func.lower(col(FcAuthorization.institution_name)) == filters.institution.lower(),
        )
        query = query.where(col(RelinkCase.authorization_id).in_(banks))
    if filters.updated_since:
        query = query.where(col(RelinkCase.updated_at) >= filters.updated_since)
    cases = list(session.exec(query))
    has_more = len(cases) > limit
    cases = cases[:limit]
    ids = {case.authorization_id for case in cases}
    authorizations = {
        (a.id, a.stripe_account): a
        for a in session.exec(
            select(FcAuthorization).where(
                col(FcAuthorization.id).in_(ids), col(FcAuthorization.stripe_account) == account
            )
        )
    }
    return [
        case_out(c, authorizations.get((c.authorization_id, c.stripe_account))) for c in cases
    ], has_more


def case_out(case: RelinkCase, authorization: FcAuthorization | None) -> schemas.Case:
    assert case.id is not None
    return schemas.Case(
        id=case.id,
        state=case.state,
        authorization_id=case.authorization_id,
        account_id=case.account_id,
        stripe_account=case.stripe_account or None,
        holder=schemas.Holder.of(authorization.holder_type, authorization.holder_id)
        if authorization
        else None,
        institution=authorization.institution_name if authorization else None,
        cause=case.cause,
        action=case.action,
        opened_at=case.opened_at,
        last_heard_at=case.last_heard_at,
        updated_at=case.updated_at,
        resolved_at=case.resolved_at,
        resolution=case.resolution,
        emails_sent=case.emails_sent,
        next_reminder_at=case.next_reminder_at,
        payment_method_id=case.payment_method_id,
        blocked_payment_methods=[
            schemas.BlockedPaymentMethod(**blocked)
            for blocked in case.blocked_payment_methods or []
        ],
    )


def _accounts_of(session: Session, case: RelinkCase) -> list[FcAccount]:
    return list(
        session.exec(
            select(FcAccount)
            .where(col(FcAccount.authorization_id) == case.authorization_id)
            .where(col(FcAccount.stripe_account) == case.stripe_account)
            .order_by(col(FcAccount.id))
        )
    )


def get_case(
    session: Session, case_id: int, stripe_account: str, *, sees_pii: bool
) -> schemas.CaseDetail | None:
    """The case, if it lives on `stripe_account` (another account's is None: not found)."""
    case = session.get(RelinkCase, case_id)
    if case is None or case.stripe_account != stripe_account:
        return None
    accounts = _accounts_of(session, case)
    authorization = session.get(FcAuthorization, (case.authorization_id, case.stripe_account))
    summary = case_out(case, authorization)
    return schemas.CaseDetail(
        **summary.model_dump(),
        accounts=[
            account_out(a, case.id if case.state in OPEN_CASE_STATES else None) for a in accounts
        ],
        timeline=_timeline(session, case, [a.id for a in accounts], sees_pii=sees_pii),
    )


def _timeline(
    session: Session, case: RelinkCase, account_ids: list[str], *, sees_pii: bool
) -> list[schemas.TimelineEntry]:
    """The case's timeline (shared/cases/timeline.py); an email's address masked unless the
    caller may see it."""
    return [
        schemas.TimelineEntry(
            at=e.at,
            kind=e.kind,
            id=str(e.id),
            what=e.what,
            detail=e.detail,
            recipient=(e.recipient if sees_pii else mask_email(e.recipient))
            if e.recipient
            else None,
        )
        for e in timeline.case_timeline(session, case, account_ids)
    ]


def account_out(account: FcAccount, open_case_id: int | None) -> schemas.Account:
    warned = (
        account.status == AccountStatus.ACTIVE and account.active_action == Action.RELINK_REQUIRED
    )
    broken = (
        account.status == AccountStatus.INACTIVE
        and account.inactive_action == Action.RELINK_REQUIRED
    )
    expected = account.expected_deactivation_date
    return schemas.Account(
        id=account.id,
        authorization_id=account.authorization_id,
        holder=schemas.Holder.of(account.holder_type, account.holder_id),
        institution=account.institution_name,
        display_name=account.display_name,
        last4=account.last4,
        subcategory=account.subcategory,
        status=account.status,
        standing="warned" if warned else account.status,
        inactive_cause=account.inactive_cause,
        inactive_action=account.inactive_action,
        active_action=account.active_action,
        expected_deactivation_at=datetime.fromtimestamp(expected, UTC) if expected else None,
        needs_relink=warned or broken,
        open_case_id=open_case_id,
        updated_at=account.updated_at,
    )


def get_account(session: Session, account_id: str, stripe_account: str) -> schemas.Account | None:
    """The account `account_id` of `stripe_account` ('' the platform's own)."""
    account = session.get(FcAccount, (account_id, stripe_account))
    if account is None:
        return None
    open_case = None
    if account.authorization_id:
        open_case = session.exec(
            select(RelinkCase.id).where(
                col(RelinkCase.stripe_account) == stripe_account,
                col(RelinkCase.authorization_id) == account.authorization_id,
                col(RelinkCase.state).in_(OPEN_CASE_STATES),
            )
        ).first()
    return account_out(account, open_case)


def mint_link(session: Session, case: RelinkCase) -> schemas.Link | str:
    """A fresh signed link for an open case, naming the account that opened it (else its
    first broken, else first, account). Returns not_open or no_account when there is none."""
    assert case.id is not None
    if case.state not in OPEN_CASE_STATES:
        return "not_open"
    account_id = case.account_id
    if account_id is None:
        accounts = _accounts_of(session, case)
        broken = [a for a in accounts if a.status != AccountStatus.ACTIVE]
        account_id = next((a.id for a in [*broken, *accounts]), None)
    if account_id is None:
        return "no_account"
    settings = get_settings()
    payload = LinkPayload(case.id, account_id, case.authorization_id, case.stripe_account)
    return schemas.Link(
        case_id=case.id,
        account_id=account_id,
        url=link_url(payload, settings),
        expires_at=utcnow() + timedelta(seconds=settings.link_max_age),
    )


def contact_out(contact: Contact, *, sees_pii: bool) -> schemas.ContactOut:
    return schemas.ContactOut(
        subject_type=contact.subject_type,
        subject_id=contact.subject_id,
        email=contact.email if sees_pii else mask_email(contact.email),
        name=contact.name,
        locale=contact.locale,
        updated_at=contact.updated_at,
    )


def open_cases_of(
    session: Session, subject_type: ContactSubject, subject_id: str, stripe_account: str
) -> list[RelinkCase]:
    """The open cases a contact of the subject writes to: its holder's, or (fc_account) its
    authorization's."""
    query = select(RelinkCase).where(
        col(RelinkCase.stripe_account) == stripe_account,
        col(RelinkCase.state).in_(OPEN_CASE_STATES),
    )
    if subject_type == ContactSubject.FC_ACCOUNT:
        query = query.where(
            col(RelinkCase.authorization_id).in_(
                select(FcAccount.authorization_id).where(
                    col(FcAccount.stripe_account) == stripe_account,
                    col(FcAccount.id) == subject_id,
                )
            )
        )
    else:
        query = query.where(_authorizations_held_by(subject_type, subject_id, stripe_account))
    return list(session.exec(query.order_by(col(RelinkCase.id))))


def revoke_links(session: Session, case: RelinkCase) -> None:
    """Every link of the case signed so far now reads as expired."""
    case.links_revoked_at = utcnow()
    session.add(case)


def contact_changed(
    session: Session,
    *,
    key_prefix: str,
    subject_type: ContactSubject,
    subject_id: str,
    stripe_account: str,
    before: str | None,
    after: str | None,
) -> list[int]:
    """A contact's address changed (set, replaced or deleted): the links of the subject's open
    cases are revoked (one sent to the old address no longer works) and the change is logged
    with the key that made it and both addresses masked. Returns the cases' ids."""
    cases = open_cases_of(session, subject_type, subject_id, stripe_account)
    for case in cases:
        revoke_links(session, case)
    ids = [case.id for case in cases if case.id is not None]
    log.warning(
        "contact_changed",
        key_prefix=key_prefix,
        subject_type=str(subject_type),
        subject_id=subject_id,
        stripe_account=stripe_account or None,
        address_before=mask_email(before) if before else None,
        address_after=mask_email(after) if after else None,
        open_cases=ids,
        links_revoked=bool(ids),
    )
    return ids
