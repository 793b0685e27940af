"""What a claimed row will send: the case, its cause family, the accounts to name, and
whether a live Stripe read says it is still needed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from shared.cases.links import LinkPayload, link_url
from shared.db import utcnow
from shared.delivery import DeliveryStatus
from shared.models import (
    CaseState,
    EmailKind,
    EmailOutbox,
    FcAccount,
    FcAuthorization,
    RelinkCase,
)
from shared.settings import Settings
from shared.stripe_objects import AccountSnapshot
from worker.cases.core.classification import EmailTemplate
from worker.cases.core.emails import accounts_to_name as named_accounts
from worker.cases.core.emails import family_of as email_family
from worker.cases.core.emails import still_needed as email_still_needed
from worker.cases.core.standing import NUMBER_EXPIRY_CAUSE, WARNING_CLEARED
from worker.cases.repository import accounts_of
from worker.cases.review import horizon_end
from worker.cases.service import resolve_case
from worker.emails.render import AccountLine, EmailContent, render_email


@dataclass(frozen=True)
class Plan:
    """What a claimed row will send, read in the claim's transaction."""

    outbox_id: int
    case_id: int
    kind: EmailKind
    family: EmailTemplate
    authorization_id: str
    account_id: str
    holder_type: str | None
    holder_id: str | None
    institution: str | None  # None: neither Stripe nor our records name the bank
    accounts: list[AccountLine]
    deadline: datetime | None = None  # a proactive email's "before <date>"
    stripe_account: str = ""  # the case's: '' the platform's, else a connected account
    number_expiry: bool = False  # a proactive email about the number used for payments


def plan_email(session: Session, row: EmailOutbox) -> Plan | str:
    case = session.get(RelinkCase, row.case_id) if row.case_id is not None else None
    reconnected = row.kind == EmailKind.RECONNECTED
    if case is None or (case.state == CaseState.RESOLVED) != reconnected:
        row.status = DeliveryStatus.CANCELLED
        session.add(row)
        return "cancelled"
    family = family_of(case, reconnected)
    accounts = accounts_to_name(session, case, family)
    if not accounts:  # nothing left to name by our own records
        if family not in (EmailTemplate.UNREPAIRABLE, EmailTemplate.RECONNECTED):
            resolution = WARNING_CLEARED if family is EmailTemplate.PROACTIVE else "reactivated"
            resolve_case(session, case, resolution, resolved_by="outbox")
        row.status = DeliveryStatus.CANCELLED
        session.add(row)
        return "reactivated"
    primary = next((a for a in accounts if a.id == case.account_id), accounts[0])
    authorization = session.get(FcAuthorization, (case.authorization_id, case.stripe_account))
    institution = (
        authorization.institution_name if authorization else None
    ) or primary.institution_name
    kind = EmailKind(row.kind)
    if kind == EmailKind.PROACTIVE and family is not EmailTemplate.PROACTIVE:
        kind = EmailKind.RELINK  # warned, then broken before the email left: say so
    number_expiry = family is EmailTemplate.PROACTIVE and case.cause == NUMBER_EXPIRY_CAUSE
    if number_expiry:
        dates = [a.account_number_expiry for a in accounts if a.account_number_expiry]
    else:
        dates = [a.expected_deactivation_date for a in accounts if a.expected_deactivation_date]
    if not dates and authorization is not None and authorization.expected_deactivation_date:
        dates = [] if number_expiry else [authorization.expected_deactivation_date]
    assert row.id is not None
    assert case.id is not None
    return Plan(
        outbox_id=row.id,
        case_id=case.id,
        kind=kind,
        family=family,
        authorization_id=case.authorization_id,
        account_id=primary.id,
        stripe_account=case.stripe_account,
        holder_type=primary.holder_type,
        holder_id=primary.holder_id,
        institution=institution,
        accounts=[AccountLine(a.display_name, a.last4) for a in accounts],
        deadline=datetime.fromtimestamp(min(dates), UTC) if dates else None,
        number_expiry=number_expiry,
    )


def family_of(case: RelinkCase, reconnected: bool) -> EmailTemplate:
    return email_family(case.state, case.cause, case.action, reconnected)


def accounts_to_name(session: Session, case: RelinkCase, family: EmailTemplate) -> list[FcAccount]:
    authorization = session.get(FcAuthorization, (case.authorization_id, case.stripe_account))
    accounts = accounts_of(session, case.authorization_id)
    return named_accounts(accounts, family, authorization, horizon_end(utcnow()))


def still_needed(plan: Plan, live: AccountSnapshot, horizon_end: int) -> bool:
    return email_still_needed(plan.family, live, horizon_end)


def render_plan(plan: Plan, settings: Settings, locale: str) -> EmailContent:
    link = expires_at = None
    if plan.family not in (EmailTemplate.UNREPAIRABLE, EmailTemplate.RECONNECTED):
        payload = LinkPayload(
            plan.case_id, plan.account_id, plan.authorization_id, plan.stripe_account
        )
        link = link_url(payload, settings)
        expires_at = utcnow() + timedelta(seconds=settings.link_max_age)
    return render_email(
        family=plan.family,
        kind=plan.kind,
        institution=plan.institution,
        accounts=plan.accounts,
        link=link,
        expires_at=expires_at,
        deadline=plan.deadline,
        locale=locale,
        number_expiry=plan.number_expiry,
    )
