"""Send one outbox row: claim it, confirm against Stripe, render, deliver, mark it sent.

Each step is its own short transaction (no lock is held while Stripe or SMTP answer):
- claim: `pending` and due → `sending` (attempts + 1, claimed_at); a `sending` row whose
  claim is older than EMAIL_CLAIM_TIMEOUT_SECONDS (a worker died) can be claimed again;
- just before sending, the case's account is retrieved live: active again → nothing is sent
  and the case closes (resolution "reactivated");
- the recipient is looked up at send time; none → the row and case are `no_contact`;
- the Message-ID is derived from the row id, so a resend after a crash is the same email;
- an SMTP send first takes a token of the shared "smtp" rate limit (SMTP_RATE_LIMIT); if none
  comes within SMTP_TOKEN_WAIT_SECONDS the row is given back without counting the attempt and
  the task retries later (SmtpRateLimited is a TransportError).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
import structlog
from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from shared.catalog import SEND_EMAIL
from shared.db import session_scope, utcnow
from shared.links import LinkPayload, link_url
from shared.models import (
    OPEN_CASE_STATES,
    CaseState,
    EmailKind,
    EmailOutbox,
    FcAccount,
    FcAuthorization,
    OutboxStatus,
    RelinkCase,
)
from shared.queue import publish_after_commit
from shared.ratelimit import RateLimitTimeout, acquire
from shared.settings import Settings, get_settings
from shared.stripe_client import make_stripe_client, retrieve_account
from shared.stripe_objects import AccountSnapshot, Action
from worker.cases.accounts import API_SNAPSHOT, apply_account_snapshot
from worker.cases.classification import CauseFamily, classify_deactivation
from worker.cases.reconcile import OUTBOX, Trigger, reconcile_locked
from worker.cases.repository import accounts_of, lock_authorization
from worker.cases.review import WARNING_CLEARED, standing_of
from worker.cases.service import resolve_case
from worker.emails.contacts import resolve_recipient
from worker.emails.message import build_message
from worker.emails.reminders import refresh_next_reminder, schedule_reminders
from worker.emails.render import AccountLine, EmailContent, render_email
from worker.emails.transport import TransportError, deliver

log = structlog.get_logger(__name__)

SMTP_TOKEN_WAIT_SECONDS = 10.0


class SmtpRateLimited(TransportError):
    """No SMTP token in time: nothing was sent, the attempt does not count, retry later."""


@dataclass(frozen=True)
class Plan:
    """What a claimed row will send, read in the claim's transaction."""

    outbox_id: int
    case_id: int
    kind: EmailKind
    family: CauseFamily
    authorization_id: str
    account_id: str
    holder_type: str | None
    holder_id: str | None
    institution: str
    accounts: list[AccountLine]
    deadline: datetime | None = None  # a proactive email's "before <date>"


def _claimable(now: datetime, stale_before: datetime, max_attempts: int) -> ColumnElement[bool]:
    return and_(
        col(EmailOutbox.attempts) < max_attempts,
        or_(
            and_(
                col(EmailOutbox.status) == OutboxStatus.PENDING,
                col(EmailOutbox.send_after) <= now,
            ),
            and_(
                col(EmailOutbox.status) == OutboxStatus.SENDING,
                col(EmailOutbox.claimed_at) < stale_before,
            ),
        ),
    )


def claim(
    session: Session,
    outbox_id: int,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> EmailOutbox | None:
    """Claim the row for this worker, or None if it is not due, already claimed or done."""
    settings = settings or get_settings()
    now = now or utcnow()
    stale_before = now - timedelta(seconds=settings.email_claim_timeout_seconds)
    result = session.execute(
        update(EmailOutbox)
        .where(
            col(EmailOutbox.id) == outbox_id,
            _claimable(now, stale_before, settings.max_email_attempts),
        )
        .values(
            status=OutboxStatus.SENDING,
            claimed_at=now,
            attempts=col(EmailOutbox.attempts) + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(EmailOutbox, outbox_id, populate_existing=True)


def due_outbox_ids(session: Session, *, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Rows a sweep should publish: due and pending, or claimed by a worker long gone.
    Rows whose stale claim used up every attempt are marked failed."""
    settings = get_settings()
    now = now or utcnow()
    stale_before = now - timedelta(seconds=settings.email_claim_timeout_seconds)
    session.execute(
        update(EmailOutbox)
        .where(
            col(EmailOutbox.status) == OutboxStatus.SENDING,
            col(EmailOutbox.claimed_at) < stale_before,
            col(EmailOutbox.attempts) >= settings.max_email_attempts,
        )
        .values(status=OutboxStatus.FAILED, last_error="claimed too often without finishing")
        .execution_options(synchronize_session=False)
    )
    return [
        outbox_id
        for outbox_id in session.exec(
            select(EmailOutbox.id)
            .where(_claimable(now, stale_before, settings.max_email_attempts))
            .order_by(col(EmailOutbox.send_after))
            .limit(limit)
        ).all()
        if outbox_id is not None
    ]


def release(outbox_id: int, error: Exception, *, retry_in: float) -> bool:
    """Give a claimed row back after a failed attempt, due again in `retry_in` seconds; on
    the last attempt mark it failed. Returns whether it is final."""
    with session_scope() as session:
        row = session.get(EmailOutbox, outbox_id)
        if row is None or row.status != OutboxStatus.SENDING:
            return True
        final = row.attempts >= get_settings().max_email_attempts
        row.status = OutboxStatus.FAILED if final else OutboxStatus.PENDING
        row.send_after = utcnow() + timedelta(seconds=retry_in)
        row.last_error = f"{type(error).__name__}: {error}"[:2000]
        session.add(row)
    log.warning("email_failed", outbox_id=outbox_id, error=type(error).__name__, final=final)
    return final


def send_outbox(outbox_id: int, *, client: stripe.StripeClient | None = None) -> str:
    """Send the row if it is due and unclaimed. Returns sent, skipped (not claimable),
    cancelled, reactivated or no_contact."""
    settings = get_settings()
    with session_scope() as session:
        row = claim(session, outbox_id, settings=settings)
        if row is None:
            return "skipped"
        claimed_at = row.claimed_at
        plan = _plan(session, row)
    if isinstance(plan, str):
        log.info("email_not_sent", outbox_id=outbox_id, outcome=plan)
        return plan
    client = client or make_stripe_client(settings)
    live = retrieve_account(client, plan.account_id)
    if not still_needed(plan, live):
        with session_scope() as session:
            if plan.family is CauseFamily.RECONNECTED:
                _finish_unsent(session, plan, OutboxStatus.CANCELLED)
                outcome = "cancelled"
            else:
                outcome = _reconcile_unsent(session, plan, live, client)
        log.info("email_not_sent", outbox_id=outbox_id, case_id=plan.case_id, outcome=outcome)
        return outcome
    recipient = resolve_recipient(client, plan.holder_type, plan.holder_id)
    if recipient is None:
        with session_scope() as session:
            _finish_unsent(session, plan, OutboxStatus.NO_CONTACT)
        log.info("email_not_sent", outbox_id=outbox_id, case_id=plan.case_id, outcome="no_contact")
        return "no_contact"
    message = build_message(
        _render(plan, settings),
        sender=settings.email_from,
        recipient=recipient,
        outbox_id=outbox_id,
    )
    take_smtp_token(outbox_id, settings)
    if not still_claimed(outbox_id, claimed_at):
        log.warning("email_claim_lost", outbox_id=outbox_id, case_id=plan.case_id)
        return "skipped"
    deliver(message, settings.email_url, name=f"relink-outbox-{outbox_id}")
    record_sent(plan, recipient)
    log.info("email_sent", outbox_id=outbox_id, case_id=plan.case_id, kind=plan.kind)
    return "sent"


def still_claimed(outbox_id: int, claimed_at: datetime | None) -> bool:
    """Renew this worker's claim just before the send, if it is still this worker's.

    Stripe calls and the SMTP token wait can outlast EMAIL_CLAIM_TIMEOUT_SECONDS; the sweep
    then hands the row to another worker. Without this fence both would send it."""
    with session_scope() as session:
        renewed = session.execute(
            update(EmailOutbox)
            .where(
                col(EmailOutbox.id) == outbox_id,
                col(EmailOutbox.status) == OutboxStatus.SENDING,
                col(EmailOutbox.claimed_at) == claimed_at,
            )
            .values(claimed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return renewed.rowcount == 1  # type: ignore[attr-defined]


def take_smtp_token(outbox_id: int, settings: Settings) -> None:
    """Wait for the shared SMTP rate limit before an SMTP send. Too long a wait: the claim's
    attempt is given back and SmtpRateLimited sends the task round its retry path."""
    if not settings.email_url.startswith("smtp://"):
        return
    try:
        acquire("smtp", timeout=SMTP_TOKEN_WAIT_SECONDS, settings=settings)
    except RateLimitTimeout as exc:
        with session_scope() as session:
            session.execute(
                update(EmailOutbox)
                .where(
                    col(EmailOutbox.id) == outbox_id,
                    col(EmailOutbox.status) == OutboxStatus.SENDING,
                    col(EmailOutbox.attempts) > 0,
                )
                .values(attempts=col(EmailOutbox.attempts) - 1)
                .execution_options(synchronize_session=False)
            )
        raise SmtpRateLimited(str(exc)) from exc


MARK_SENT_PATIENCE_SECONDS = 60.0


def record_sent(plan: Plan, recipient: str) -> None:
    """The message is gone: record it, waiting out a database blip (tests/faults cut
    PostgreSQL for 5 s) instead of raising, which would release the row and send it twice."""
    deadline = time.monotonic() + MARK_SENT_PATIENCE_SECONDS
    while True:
        try:
            with session_scope() as session:
                _mark_sent(session, plan, recipient)
            return
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            log.warning("email_sent_not_recorded_yet", outbox_id=plan.outbox_id)
            time.sleep(1.0)


def _plan(session: Session, row: EmailOutbox) -> Plan | str:
    case = session.get(RelinkCase, row.case_id) if row.case_id is not None else None
    reconnected = row.kind == EmailKind.RECONNECTED
    if case is None or (case.state == CaseState.RESOLVED) != reconnected:
        row.status = OutboxStatus.CANCELLED
        session.add(row)
        return "cancelled"
    family = _family(case, reconnected)
    accounts = _accounts_to_name(session, case, family)
    if not accounts:  # nothing left to name by our own records
        if family not in (CauseFamily.UNREPAIRABLE, CauseFamily.RECONNECTED):
            resolution = WARNING_CLEARED if family is CauseFamily.PROACTIVE else "reactivated"
            resolve_case(session, case, resolution, resolved_by="outbox")
        row.status = OutboxStatus.CANCELLED
        session.add(row)
        return "reactivated"
    primary = next((a for a in accounts if a.id == case.account_id), accounts[0])
    authorization = session.get(FcAuthorization, case.authorization_id)
    institution = (
        (authorization.institution_name if authorization else None)
        or primary.institution_name
        or "your bank"
    )
    kind = EmailKind(row.kind)
    if kind == EmailKind.PROACTIVE and family is not CauseFamily.PROACTIVE:
        kind = EmailKind.RELINK  # warned, then broken before the email left: say so
    dates = [a.expected_deactivation_date for a in accounts if a.expected_deactivation_date]
    if not dates and authorization is not None and authorization.expected_deactivation_date:
        dates = [authorization.expected_deactivation_date]
    assert row.id is not None
    assert case.id is not None
    return Plan(
        outbox_id=row.id,
        case_id=case.id,
        kind=kind,
        family=family,
        authorization_id=case.authorization_id,
        account_id=primary.id,
        holder_type=primary.holder_type,
        holder_id=primary.holder_id,
        institution=institution,
        accounts=[AccountLine(a.display_name, a.last4) for a in accounts],
        deadline=datetime.fromtimestamp(min(dates), UTC) if dates else None,
    )


def _family(case: RelinkCase, reconnected: bool) -> CauseFamily:
    if reconnected:
        return CauseFamily.RECONNECTED
    if case.state == CaseState.UNREPAIRABLE:
        return CauseFamily.UNREPAIRABLE
    if case.state == CaseState.PROACTIVE:
        return CauseFamily.PROACTIVE
    return classify_deactivation(case.cause, case.action).family


def _accounts_to_name(session: Session, case: RelinkCase, family: CauseFamily) -> list[FcAccount]:
    """The accounts the email is about: broken and repairable ones for a relink email, the
    warned ones for a proactive one, the lost ones (not repairable, or disconnected) for an
    unrepairable one, the working ones for "reconnected"."""
    accounts = accounts_of(session, case.authorization_id)
    if family is CauseFamily.RECONNECTED:
        return [a for a in accounts if a.status == "active"]
    if family is CauseFamily.PROACTIVE:
        authorization = session.get(FcAuthorization, case.authorization_id)
        if authorization is None:
            return []
        return standing_of(session, authorization, utcnow()).warned
    inactive = [a for a in accounts if a.status == "inactive"]
    if family is CauseFamily.UNREPAIRABLE:
        lost = [a for a in inactive if a.inactive_action != Action.RELINK_REQUIRED]
        return lost or [a for a in accounts if a.status == "disconnected"]
    return [a for a in inactive if a.inactive_action == Action.RELINK_REQUIRED]


def still_needed(plan: Plan, live: dict[str, Any]) -> bool:
    """Whether the live account still calls for this email."""
    status = live.get("status")
    if plan.family is CauseFamily.RECONNECTED:
        return status == "active"
    if plan.family is CauseFamily.PROACTIVE:
        active = (live.get("status_details") or {}).get("active") or {}
        return status == "inactive" or active.get("action") == Action.RELINK_REQUIRED
    return status != "active"


def _render(plan: Plan, settings: Settings) -> EmailContent:
    link = expires_at = None
    if plan.family not in (CauseFamily.UNREPAIRABLE, CauseFamily.RECONNECTED):
        payload = LinkPayload(plan.case_id, plan.account_id, plan.authorization_id)
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
    )


def _reconcile_unsent(
    session: Session, plan: Plan, live: dict[str, Any], client: stripe.StripeClient
) -> str:
    """The account the email is about no longer needs it: store what Stripe just said,
    reconcile the whole authorization (a sibling may still need the relink), then cancel the
    row if the case closed (`reactivated`), or give it back to be planned again with an
    account that still needs it (`replanned`)."""
    now = utcnow()
    authorization = lock_authorization(session, plan.authorization_id)
    apply_account_snapshot(
        session,
        AccountSnapshot.parse(live),
        created=int(now.timestamp()),
        event_id=API_SNAPSHOT,
        replace_equal=True,
    )
    reconcile_locked(session, authorization, Trigger(OUTBOX), client=client, now=now)
    row = session.get(EmailOutbox, plan.outbox_id, populate_existing=True)
    case = session.get(RelinkCase, plan.case_id, populate_existing=True)
    if row is None or row.status != OutboxStatus.SENDING:
        return "cancelled"
    if case is not None and case.state in (*OPEN_CASE_STATES, CaseState.UNREPAIRABLE):
        row.status = OutboxStatus.PENDING
        row.send_after = now
        session.add(row)
        publish_after_commit(session, SEND_EMAIL, [row.id])
        return "replanned"
    row.status = OutboxStatus.CANCELLED
    session.add(row)
    return "reactivated"


def _finish_unsent(
    session: Session, plan: Plan, status: OutboxStatus, *, resolution: str | None = None
) -> None:
    row = session.get(EmailOutbox, plan.outbox_id)
    case = session.exec(
        select(RelinkCase).where(RelinkCase.id == plan.case_id).with_for_update()
    ).one()
    if row is not None:
        row.status = status
        session.add(row)
    if resolution is not None and case.state != CaseState.RESOLVED:
        resolve_case(session, case, resolution, resolved_by="outbox")
    elif status == OutboxStatus.NO_CONTACT and case.state == CaseState.OPEN:
        case.state = CaseState.NO_CONTACT
        session.add(case)


def _mark_sent(session: Session, plan: Plan, recipient: str) -> None:
    now = utcnow()
    row = session.get(EmailOutbox, plan.outbox_id)
    case = session.exec(
        select(RelinkCase).where(RelinkCase.id == plan.case_id).with_for_update()
    ).one()
    if row is not None:
        row.status = OutboxStatus.SENT
        row.sent_at = now
        row.recipient = recipient
        row.last_error = None
        session.add(row)
    case.emails_sent += 1
    if case.state == CaseState.NO_CONTACT:
        case.state = CaseState.OPEN  # an address turned up (e.g. for a fresh link)
    session.add(case)
    if plan.kind in (EmailKind.RELINK, EmailKind.PROACTIVE):
        schedule_reminders(session, case, sent_at=now)
    elif plan.kind == EmailKind.REMINDER:
        refresh_next_reminder(session, case)
