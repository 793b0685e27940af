"""Send one outbox row: claim it, confirm against Stripe, render, deliver, mark it sent.

Each step is its own short transaction (no lock is held while Stripe or SMTP answer):
- claim: `pending` and due → `sending` (attempts + 1, claimed_at); a `sending` row whose
  claim is older than EMAIL_CLAIM_TIMEOUT_SECONDS (a worker died) can be claimed again;
- just before sending, the case's account is retrieved live (parsed once, AccountSnapshot):
  no longer in need → nothing is sent and the authorization is reconciled, which closes the
  case ("reactivated") or gives the row back for a sibling still broken ("replanned");
- the recipient is looked up at send time; none → the row and case are `no_contact`;
- the Message-ID is derived from the row id, so a resend after a crash is the same email;
- an SMTP send first takes a token of the shared "smtp" rate limit (SMTP_RATE_LIMIT); if none
  comes within SMTP_TOKEN_WAIT_SECONDS the row is given back without counting the attempt and
  the task retries later (SmtpRateLimited is a TransportError).
"""

from __future__ import annotations

from datetime import datetime

import stripe
import structlog
from sqlalchemy import update
from sqlmodel import Session, col, select

from shared import metrics
from shared.connect import acting_on
from shared.db import outlasting_outages, session_scope, utcnow
from shared.delivery import DeliveryStatus
from shared.events.catalog import SEND_EMAIL
from shared.models import (
    OPEN_CASE_STATES,
    CaseState,
    EmailKind,
    EmailOutbox,
    FcAccount,
    RelinkCase,
    WebhookEvent,
)
from shared.platform_webhooks import events, payloads
from shared.queue import publish_after_commit
from shared.ratelimit import RateLimitTimeout, acquire
from shared.settings import Settings, get_settings
from shared.stripe_client import make_stripe_client, retrieve_account
from shared.stripe_objects import AccountSnapshot
from worker.cases.accounts import API_SNAPSHOT, apply_account_snapshot
from worker.cases.core.classification import EmailTemplate
from worker.cases.reconcile import OUTBOX, Trigger, reconcile_locked
from worker.cases.repository import lock_authorization
from worker.emails.claim import claim, still_claimed
from worker.emails.contacts import Recipient, resolve_recipient
from worker.emails.message import build_message, sender_address
from worker.emails.plan import Plan, plan_email, render_plan, still_needed
from worker.emails.reminders import refresh_next_reminder, schedule_reminders
from worker.emails.transport import SMTP_SCHEMES, TransportError, deliver

log = structlog.get_logger(__name__)

SMTP_TOKEN_WAIT_SECONDS = 10.0
# How long a send waits out a database outage before giving up on recording its result.
OUTAGE_PATIENCE_SECONDS = 60.0


class SmtpRateLimited(TransportError):
    """No SMTP token in time: nothing was sent, the attempt does not count, retry later."""

    code = "smtp_rate_limited"


def send_outbox(outbox_id: int, *, client: stripe.StripeClient | None = None) -> str:
    """Send the row if it is due and unclaimed, acting on its case's Stripe account. Returns
    sent, skipped (not claimable), cancelled, reactivated, replanned or no_contact."""
    with session_scope() as session:
        stripe_account = session.exec(
            select(RelinkCase.stripe_account)
            .join(EmailOutbox, col(EmailOutbox.case_id) == RelinkCase.id)
            .where(EmailOutbox.id == outbox_id)
        ).first()
    with acting_on(stripe_account):
        return _send_outbox(outbox_id, client)


def _send_outbox(outbox_id: int, client: stripe.StripeClient | None) -> str:
    settings = get_settings()
    with session_scope() as session:
        row = claim(session, outbox_id, settings=settings)
        if row is None:
            return "skipped"
        claimed_at = row.claimed_at
        structlog.contextvars.bind_contextvars(outbox_id=outbox_id, case_id=row.case_id)
        plan = plan_email(session, row)
    if isinstance(plan, str):
        log.info("email_not_sent", outbox_id=outbox_id, outcome=plan)
        return plan
    client = client or make_stripe_client(settings)
    live = AccountSnapshot.parse(retrieve_account(client, plan.account_id))
    if not still_needed(plan, live, get_settings().horizon_end(utcnow())):
        with session_scope() as session:
            if plan.family is EmailTemplate.RECONNECTED:
                _finish_unsent(session, plan, DeliveryStatus.CANCELLED)
                outcome = "cancelled"
            else:
                outcome = _reconcile_unsent(session, plan, live, client)
        log.info("email_not_sent", outbox_id=outbox_id, case_id=plan.case_id, outcome=outcome)
        return outcome
    if not settings.sends_emails:  # DELIVERY=webhook: the platform delivers the link
        record_sent(plan, None)
        log.info("email_handed_over", outbox_id=outbox_id, case_id=plan.case_id, kind=plan.kind)
        return "handed_over"
    recipient = resolve_recipient(
        client,
        plan.holder_type,
        plan.holder_id,
        plan.account_id,
        stripe_account=plan.stripe_account,
    )
    if recipient is None:
        with session_scope() as session:
            _finish_unsent(session, plan, DeliveryStatus.NO_CONTACT)
        log.info("email_not_sent", outbox_id=outbox_id, case_id=plan.case_id, outcome="no_contact")
        return "no_contact"
    message = build_message(
        render_plan(plan, settings, recipient.locale),
        sender=sender_address(settings),
        recipient=recipient.email,
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


def take_smtp_token(outbox_id: int, settings: Settings) -> None:
    """Wait for the shared SMTP rate limit before an SMTP send. Too long a wait: the claim's
    attempt is given back and SmtpRateLimited sends the task round its retry path."""
    if not settings.email_url.startswith(SMTP_SCHEMES):
        return
    try:
        acquire("smtp", timeout=SMTP_TOKEN_WAIT_SECONDS, settings=settings)
    except RateLimitTimeout as exc:
        with session_scope() as session:
            session.execute(
                update(EmailOutbox)
                .where(
                    col(EmailOutbox.id) == outbox_id,
                    col(EmailOutbox.status) == DeliveryStatus.SENDING,
                    col(EmailOutbox.attempts) > 0,
                )
                .values(attempts=col(EmailOutbox.attempts) - 1)
                .execution_options(synchronize_session=False)
            )
        raise SmtpRateLimited(str(exc)) from exc


def record_sent(plan: Plan, recipient: Recipient | None) -> None:
    """The message is gone: record it, waiting out a database blip (tests/faults cut
    PostgreSQL for 5 s) instead of raising, which would release the row and send it twice."""

    def mark() -> None:
        with session_scope() as session:
            _mark_sent(session, plan, recipient)

    outlasting_outages(mark, patience=OUTAGE_PATIENCE_SECONDS, what="email_sent")


def _reconcile_unsent(
    session: Session, plan: Plan, live: AccountSnapshot, client: stripe.StripeClient
) -> str:
    """The account the email is about no longer needs it: store what Stripe just said,
    reconcile the whole authorization (a sibling may still need the relink), then cancel the
    row if the case closed (`reactivated`), or give it back to be planned again with an
    account that still needs it (`replanned`)."""
    now = utcnow()
    authorization = lock_authorization(session, plan.authorization_id)
    apply_account_snapshot(
        session,
        live,
        created=int(now.timestamp()),
        event_id=API_SNAPSHOT,
        replace_equal=True,
    )
    reconcile_locked(session, authorization, Trigger(OUTBOX), client=client, now=now)
    row = session.get(EmailOutbox, plan.outbox_id, populate_existing=True)
    case = session.get(RelinkCase, plan.case_id, populate_existing=True)
    if row is None or row.status != DeliveryStatus.SENDING:
        return "cancelled"
    if case is not None and case.state in (*OPEN_CASE_STATES, CaseState.UNREPAIRABLE):
        row.status = DeliveryStatus.PENDING
        row.send_after = now
        session.add(row)
        publish_after_commit(session, SEND_EMAIL, [row.id])
        return "replanned"
    row.status = DeliveryStatus.CANCELLED
    session.add(row)
    return "reactivated"


def _finish_unsent(session: Session, plan: Plan, status: DeliveryStatus) -> None:
    row = session.get(EmailOutbox, plan.outbox_id)
    case = session.exec(
        select(RelinkCase).where(RelinkCase.id == plan.case_id).with_for_update()
    ).one()
    if row is not None:
        row.status = status
        session.add(row)
    if status == DeliveryStatus.NO_CONTACT and case.state == CaseState.OPEN:
        case.state = CaseState.NO_CONTACT
        session.add(case)


def _mark_sent(session: Session, plan: Plan, recipient: Recipient | None) -> None:
    """Idempotent: a commit whose acknowledgement an outage swallowed is not counted twice.
    No recipient: handed to the platform (DELIVERY=webhook), no email counted. A reminder or
    fresh link is a `relink.case.reminder_due` for the platform either way."""
    now = utcnow()
    case = session.exec(
        select(RelinkCase).where(RelinkCase.id == plan.case_id).with_for_update()
    ).one()
    row = session.get(EmailOutbox, plan.outbox_id)
    if row is not None and row.status == DeliveryStatus.SENT:
        return
    if row is not None:
        row.status = DeliveryStatus.SENT
        row.sent_at = now
        row.recipient = recipient.email if recipient else None
        row.last_error = None
        session.add(row)
    if recipient is not None:
        case.locale = recipient.locale  # the page speaks the email's language
        case.emails_sent += 1
        if plan.kind in FIRST_EMAILS:
            _count_first_email(session, case, plan.kind, now)
    if plan.kind in (EmailKind.REMINDER, EmailKind.FRESH_LINK):
        events.record_case_event(session, payloads.CASE_REMINDER_DUE, case, reason=plan.kind.value)
    if case.state == CaseState.NO_CONTACT:
        case.state = CaseState.OPEN  # an address turned up (e.g. for a fresh link)
    session.add(case)
    if plan.kind in (EmailKind.RELINK, EmailKind.PROACTIVE):
        schedule_reminders(session, case, sent_at=now)
    elif plan.kind == EmailKind.REMINDER:
        refresh_next_reminder(session, case)


FIRST_EMAILS = (EmailKind.RELINK, EmailKind.UNREPAIRABLE, EmailKind.PROACTIVE)


def _count_first_email(session: Session, case: RelinkCase, kind: EmailKind, now: datetime) -> None:
    """The funnel's `emailed`, and for a deactivation the time since its webhook arrived (the
    case's account's deactivation event; the case's opening if that is gone)."""
    metrics.count_step(session, "emailed")
    if kind == EmailKind.PROACTIVE:
        return
    received = session.exec(
        select(WebhookEvent.received_at)
        .join(FcAccount, col(FcAccount.state_event_id) == WebhookEvent.id)
        .where(col(FcAccount.id) == case.account_id)
        .where(col(FcAccount.stripe_account) == case.stripe_account)
    ).first()
    metrics.observe_since(session, metrics.WEBHOOK_TO_EMAIL_SENT, received or case.opened_at, now)
