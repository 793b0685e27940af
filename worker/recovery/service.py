"""Pay again the invoices that failed while the bank link was broken (RECOVER_FAILED_PAYMENTS):
list the customer's open invoices, read each young enough with its attempts, choose with
worker/recovery/rule.py, and pay each chosen one once with the working PaymentMethod.

Each invoice gets a `payment_recovery` row (unique per case and invoice) committed before its
pay call, so a second run of the task sends nothing for it; a run interrupted between the row
and Stripe's answer sends the same call again with the same Idempotency-Key, which Stripe
replays. Holder-less accounts have no Customer to bill: nothing to recover; a connected
account's invoices are read and paid on that account, as the payment switch does."""

from __future__ import annotations

import time
from datetime import timedelta

import stripe
import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from shared import metrics
from shared.db import session_scope, utcnow
from shared.delivery import DeliveryStatus
from shared.errors import UnavailableError
from shared.models import FcAccount, RelinkCase
from shared.payments.recovery_models import PaymentRecovery, RecoveryStatus
from shared.payments.switch_models import PaymentMethodSwitch
from shared.platform_webhooks import events
from shared.settings import Settings, get_settings
from shared.stripe_client import make_stripe_client
from worker import stripe_payments
from worker.errors import TRANSIENT_ERRORS
from worker.recovery import rule

log = structlog.get_logger(__name__)

SWEEP_BATCH = 100
ENDED = {  # an invoice in these statuses has nothing left to pay
    "paid": RecoveryStatus.RECOVERED,
    "void": RecoveryStatus.CLOSED,
    "uncollectible": RecoveryStatus.CLOSED,
}


class RecoveryInterrupted(UnavailableError):
    """A transient error stopped a run part way; the rows it wrote are committed."""

    code = "recovery_interrupted"

    def __init__(self, case_id: int, cause: Exception) -> None:
        super().__init__(f"recovery of case {case_id}: {type(cause).__name__}")
        self.cause = cause


def recover_payments(
    case_id: int, payment_method_id: str | None = None, *, client: stripe.StripeClient | None = None
) -> int:
    """Pay the chosen invoices of the case; return how many pay calls this run sent."""
    settings = get_settings()
    if not settings.recover_failed_payments:
        return 0
    with session_scope() as session:
        case = session.get(RelinkCase, case_id)
        if case is None:
            return 0
        customer, broken = customer_and_accounts(session, case)
        stripe_account = case.stripe_account
        rows = _rows(session, case_id)
        payment_method_id = payment_method_id or _switched_to(session, case_id)
    if customer is None:
        log.info("payment_recovery_nothing", case_id=case_id, reason="no_customer")
        return 0
    client = client or make_stripe_client(settings, stripe_account=stripe_account)
    try:
        to_pay = [r.id for r in rows if r.status == RecoveryStatus.PAYING]
        attempted = frozenset(r.invoice_id for r in rows)
        if len(attempted) < settings.recovery_max_invoices:
            to_pay += _claim_chosen(
                client, settings, case_id, customer, broken, attempted, payment_method_id
            )
        for recovery_id in to_pay:
            if recovery_id is not None:
                _pay(client, recovery_id)
    except TRANSIENT_ERRORS as exc:
        raise RecoveryInterrupted(case_id, exc) from exc
    log.info("payment_recovery", case_id=case_id, paid=len(to_pay), attempted=len(attempted))
    return len(to_pay)


def customer_and_accounts(session: Session, case: RelinkCase) -> tuple[str | None, frozenset[str]]:
    """The Customer billed through the case's accounts (None: a holder-less account), and
    every account of its authorization (each was broken with it)."""
    accounts = session.exec(
        select(FcAccount).where(
            col(FcAccount.authorization_id) == case.authorization_id,
            col(FcAccount.stripe_account) == case.stripe_account,
        )
    ).all()
    ids = {a.id for a in accounts} | ({case.account_id} if case.account_id else set())
    customers = {a.holder_id for a in accounts if a.holder_type == "customer" and a.holder_id}
    return (min(customers) if customers else None), frozenset(ids)


def _switched_to(session: Session, case_id: int) -> str | None:
    """The PaymentMethod a switch of the case moved the customer to (a run queued again by
    the sweep pays with it too)."""
    query = (
        select(PaymentMethodSwitch.payment_method_id)
        .where(
            col(PaymentMethodSwitch.case_id) == case_id,
            col(PaymentMethodSwitch.status) == DeliveryStatus.SWITCHED,
        )
        .order_by(col(PaymentMethodSwitch.id).desc())
    )
    return session.exec(query).first()


def _rows(session: Session, case_id: int) -> list[PaymentRecovery]:
    query = select(PaymentRecovery).where(col(PaymentRecovery.case_id) == case_id)
    return list(session.exec(query.order_by(col(PaymentRecovery.id))))


def _claim_chosen(
    client: stripe.StripeClient,
    settings: Settings,
    case_id: int,
    customer: str,
    broken: frozenset[str],
    attempted: frozenset[str],
    new_payment_method: str | None,
) -> list[int | None]:
    """Read the open invoices, choose, and commit a row for each chosen one (a concurrent
    run that committed it first wins: it is skipped here)."""
    now, max_age = int(time.time()), settings.recovery_max_age_days
    listed = stripe_payments.list_open_invoices(client, customer)
    fresh = [
        rule.InvoiceFacts.parse(stripe_payments.retrieve_invoice(client, str(invoice["id"])))
        for invoice in listed
        if invoice["id"] not in attempted and rule.is_recent(invoice, now=now, max_age_days=max_age)
    ]
    chosen = rule.choose(
        fresh,
        broken_accounts=broken,
        now=now,
        max_age_days=max_age,
        max_invoices=settings.recovery_max_invoices,
        attempted=attempted,
    )
    claimed: list[int | None] = []
    for invoice in chosen:
        row = PaymentRecovery(
            case_id=case_id,
            invoice_id=invoice.id,
            customer_id=customer,
            payment_method_id=rule.payment_method_for(invoice, new_payment_method),
            failed_payment_method_id=invoice.failed_payment_method or "",
            amount_due=invoice.amount_due,
            currency=invoice.currency,
        )
        try:
            with session_scope() as session:
                session.add(row)
                session.flush()
                claimed.append(row.id)
        except IntegrityError:
            log.info("payment_recovery_claimed_before", case_id=case_id, invoice_id=invoice.id)
    return claimed


def idempotency_key(case_id: int, invoice_id: str) -> str:
    return f"relink-case-{case_id}-invoice-{invoice_id}-pay"


def _pay(client: stripe.StripeClient, recovery_id: int) -> None:
    """Send the row's pay call (again, with the same key, after an interrupted run) and
    record Stripe's answer; a transient error leaves the row `paying` for the retry."""
    with session_scope() as session:
        row = session.get(PaymentRecovery, recovery_id)
        assert row is not None
        key = idempotency_key(row.case_id, row.invoice_id)
        invoice_id, pm = row.invoice_id, row.payment_method_id
    error: str | None = None
    status = "open"
    try:
        status = str(
            stripe_payments.pay_invoice(client, invoice_id, pm, idempotency_key=key)["status"]
        )
    except TRANSIENT_ERRORS:  # some are StripeErrors: the task retries them, same key
        raise
    except stripe.StripeError as exc:  # refused (paid, voided since, ...): not retried
        error = describe(exc)
    with session_scope() as session:
        row = _lock(session, recovery_id)
        if row is None or row.status != RecoveryStatus.PAYING:
            return
        row.attempted_at = utcnow()
        if error is not None:
            finish(session, row, RecoveryStatus.FAILED, error, announce_retry=True)
            return
        row.status = RecoveryStatus.PROCESSING
        _announce(session, row)
        metrics.count_recovery(session, "retried")
        if status in ENDED:  # a card-like payment that ended at once
            finish(session, row, ENDED[status], None if status == "paid" else status)


def _lock(session: Session, recovery_id: int) -> PaymentRecovery | None:
    query = select(PaymentRecovery).where(col(PaymentRecovery.id) == recovery_id)
    return session.exec(query.with_for_update()).one_or_none()


def _announce(session: Session, row: PaymentRecovery) -> None:
    case = session.get(RelinkCase, row.case_id)
    assert case is not None
    events.record_invoice(session, case, row)


def finish(
    session: Session,
    row: PaymentRecovery,
    status: RecoveryStatus,
    error: str | None,
    *,
    announce_retry: bool = False,
) -> None:
    """The payment ended: recorded, told to the platform and counted, once."""
    if announce_retry:  # refused at once: the attempt and its failure are both told
        row.status = RecoveryStatus.PROCESSING
        _announce(session, row)
        metrics.count_recovery(session, "retried")
    row.status, row.last_error, row.finished_at = status, error, utcnow()
    session.add(row)
    _announce(session, row)
    metrics.count_recovery(session, status.value)
    log.info(
        "payment_recovery_outcome",
        case_id=row.case_id,
        invoice_id=row.invoice_id,
        status=status.value,
        error=error,
    )


def describe(exc: Exception) -> str:
    """The error's kind and Stripe's code, never its message (it may quote parameters)."""
    if isinstance(exc, stripe.StripeError):
        return f"{type(exc).__name__} {exc.http_status or ''} {exc.code or ''}".strip()
    return type(exc).__name__


# outcomes: the invoice events, or the sweep reading the invoice back


def settle_from_event(
    session: Session, invoice: dict[str, object], paid: bool, account: str
) -> int:
    """`invoice.paid` / `invoice.payment_failed` for an invoice relink is paying: its rows
    end recovered or failed (an ACH failure is reported, never retried). Return how many."""
    rows = session.exec(
        select(PaymentRecovery)
        .join(RelinkCase, col(RelinkCase.id) == col(PaymentRecovery.case_id))
        .where(
            col(PaymentRecovery.invoice_id) == str(invoice.get("id")),
            col(PaymentRecovery.status) == RecoveryStatus.PROCESSING,
            col(RelinkCase.stripe_account) == account,
        )
        .with_for_update(of=PaymentRecovery)  # pyright: ignore[reportArgumentType]
    ).all()
    for row in rows:
        if paid:
            finish(session, row, RecoveryStatus.RECOVERED, None)
        else:
            finish(session, row, RecoveryStatus.FAILED, "payment_failed")
    return len(rows)


def outcome_of(invoice: rule.InvoiceFacts) -> tuple[RecoveryStatus, str | None] | None:
    """What a read-back invoice says of relink's payment (None: still processing)."""
    if invoice.status in ENDED:
        return ENDED[invoice.status], None if invoice.status == "paid" else invoice.status
    if invoice.last_attempt == rule.FAILED_ATTEMPT:
        return RecoveryStatus.FAILED, "payment_failed"
    return None


def sweep(older_than_seconds: float, client: stripe.StripeClient | None = None) -> int:
    """Read back every invoice whose payment has been processing this long (the invoice
    events may not be enabled, or were lost); return how many ended."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    with session_scope() as session:
        pending = session.exec(
            select(PaymentRecovery.id, PaymentRecovery.invoice_id, RelinkCase.stripe_account)
            .join(RelinkCase, col(RelinkCase.id) == col(PaymentRecovery.case_id))
            .where(
                col(PaymentRecovery.status) == RecoveryStatus.PROCESSING,
                col(PaymentRecovery.attempted_at) < cutoff,
            )
            .order_by(col(PaymentRecovery.id))
            .limit(SWEEP_BATCH)
        ).all()
    ended = 0
    settings = get_settings()
    for recovery_id, invoice_id, account in pending:
        assert recovery_id is not None
        on = client or make_stripe_client(settings, stripe_account=account)
        outcome = outcome_of(
            rule.InvoiceFacts.parse(stripe_payments.retrieve_invoice(on, invoice_id))
        )
        if outcome is None:
            continue
        with session_scope() as session:
            row = _lock(session, recovery_id)
            if row is not None and row.status == RecoveryStatus.PROCESSING:
                finish(session, row, *outcome)
                ended += 1
    return ended


def paying_case_ids(older_than_seconds: float) -> list[int]:
    """Cases with a row still `paying` this long after it was written: their task was lost
    or is waiting to retry; running it again sends the same call with the same key."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    with session_scope() as session:
        query = (
            select(PaymentRecovery.case_id)
            .where(
                col(PaymentRecovery.status) == RecoveryStatus.PAYING,
                col(PaymentRecovery.created_at) < cutoff,
            )
            .distinct()
            .limit(SWEEP_BATCH)
        )
        return sorted(session.exec(query))
