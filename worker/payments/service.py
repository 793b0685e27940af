"""Switch a customer to the PaymentMethod saved on the relink page (PAYMENT_METHOD_SWITCH):
the Customer's invoice default, then (`subscriptions`) every active, trialing or past_due
Subscription whose default is a PaymentMethod of the broken FC account, then
(DETACH_OLD_PAYMENT_METHOD) detach those old PaymentMethods. Stripe does not document whether
a detach clears the defaults naming the PaymentMethod (reports say it may not), so before
detaching, every default still naming one is cleared: nothing bills a detached
PaymentMethod whichever way Stripe behaves.

The switch row is locked for the whole run, so a second task waits and then finds the work
done. Each write carries an Idempotency-Key derived from the case and its target and is
recorded as a step; a run that fails part way commits the steps it made and the retry skips
them, sending only the failed write again, with the same key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import stripe
import structlog
from sqlmodel import Session, col, select

from shared import delivery
from shared.db import session_scope, utcnow
from shared.delivery import DeliveryStatus
from shared.errors import UnavailableError
from shared.models import RelinkCase
from shared.payments.switch_models import SWITCHES, PaymentMethodSwitch
from shared.platform_webhooks import events
from shared.settings import Settings, get_settings
from shared.stripe_client import make_stripe_client
from worker import stripe_payments
from worker.errors import TRANSIENT_ERRORS
from worker.recovery.request import request_recovery

log = structlog.get_logger(__name__)

MOVED_STATUSES = ("active", "trialing", "past_due")
ENDED_STATUSES = ("canceled", "incomplete_expired")  # Stripe refuses to update these
MAX_RUNS = 20  # over every task chain (the sweep starts new ones): then a transient error fails it
SWEEP_BATCH = 100


class SwitchInterrupted(UnavailableError):
    """A transient error stopped a run part way; the steps it made are committed."""

    code = "switch_interrupted"

    def __init__(self, switch_id: int, cause: Exception) -> None:
        super().__init__(f"switch {switch_id}: {type(cause).__name__}")
        self.cause = cause


def switch_payment_method(
    switch_id: int, *, client: stripe.StripeClient | None = None, last_try: bool = False
) -> str:
    """Run a pending switch; return its status. A transient Stripe error raises
    SwitchInterrupted (retry it), unless `last_try`: then the switch is `failed`."""
    settings = get_settings()
    interrupted: Exception | None = None
    with session_scope() as session:
        row = _lock(session, switch_id)
        if row is None or row.status != DeliveryStatus.PENDING:
            status = row.status if row else "missing"
            log.info("payment_method_switch_done_before", switch_id=switch_id, status=status)
            return status
        case = session.get(RelinkCase, row.case_id)
        assert case is not None
        row.attempts += 1
        last_try = last_try or row.attempts >= MAX_RUNS
        if row.customer_id is None:
            _finish(row, DeliveryStatus.NOTHING_TO_SWITCH)
            log.info("payment_method_switch_nothing", case_id=case.id, switch_id=switch_id)
            return row.status
        try:
            on = case.stripe_account  # a connected account's Customer lives on it
            _write_all(row, client or make_stripe_client(settings, stripe_account=on), settings)
        except TRANSIENT_ERRORS as exc:
            row.last_error = _describe(exc)
            if last_try:
                _finish(row, DeliveryStatus.FAILED)
            else:
                interrupted = exc
        except stripe.StripeError as exc:  # Stripe refused the write: retrying cannot help
            row.last_error = _describe(exc)
            _finish(row, DeliveryStatus.FAILED)
        else:
            row.last_error = None
            _finish(row, DeliveryStatus.SWITCHED)
            events.record_payment_method_switched(session, case, row)
            request_recovery(session, case, row.payment_method_id)
        log.info(
            "payment_method_switch",
            case_id=case.id,
            switch_id=switch_id,
            status=row.status,
            writes=len(row.steps),
            error=row.last_error,
        )
    if interrupted is not None:
        raise SwitchInterrupted(switch_id, interrupted)
    return row.status


def _lock(session: Session, switch_id: int) -> PaymentMethodSwitch | None:
    query = (
        select(PaymentMethodSwitch)
        .where(col(PaymentMethodSwitch.id) == switch_id)
        .with_for_update()
    )
    return session.exec(query).one_or_none()


def _write_all(row: PaymentMethodSwitch, client: stripe.StripeClient, settings: Settings) -> None:
    assert row.customer_id is not None
    customer, new = row.customer_id, row.payment_method_id
    key = f"relink-case-{row.case_id}"
    _step(
        row,
        "default",
        customer,
        lambda: stripe_payments.set_default_payment_method(
            client, customer, new, idempotency_key=f"{key}-default-{new}"
        ),
    )
    if not (settings.switches_subscriptions or settings.detach_old_payment_method):
        return
    old = {
        pm["id"]
        for pm in stripe_payments.list_bank_payment_methods(client, customer)
        if _fc_account(pm) == row.old_account_id and pm["id"] != new
    }
    for subscription in stripe_payments.list_subscriptions(client, customer):
        if subscription.get("default_payment_method") not in old:
            continue
        sub_id, status = str(subscription["id"]), subscription.get("status")
        if settings.switches_subscriptions and status in MOVED_STATUSES:
            _step(
                row,
                "subscription",
                sub_id,
                lambda sub_id=sub_id: stripe_payments.set_subscription_payment_method(
                    client, sub_id, new, idempotency_key=f"{key}-sub-{sub_id}-{new}"
                ),
            )
        elif settings.detach_old_payment_method and status not in ENDED_STATUSES:
            _step(
                row,
                "subscription_cleared",
                sub_id,
                lambda sub_id=sub_id: stripe_payments.clear_subscription_payment_method(
                    client, sub_id, idempotency_key=f"{key}-sub-{sub_id}-cleared"
                ),
            )
    if settings.detach_old_payment_method:
        for pm_id in sorted(old):
            _step(
                row,
                "detach",
                pm_id,
                lambda pm_id=pm_id: stripe_payments.detach_payment_method(
                    client, pm_id, idempotency_key=f"{key}-detach-{pm_id}"
                ),
            )


def _step(row: PaymentMethodSwitch, step: str, target: str, write: Callable[[], None]) -> None:
    """Make one write unless a run already made it, and record it."""
    if any(s["step"] == step and s["target"] == target for s in row.steps):
        return
    write()
    row.steps = [*row.steps, {"step": step, "target": target, "at": utcnow().isoformat()}]


def _fc_account(payment_method: dict[str, Any]) -> str | None:
    bank = payment_method.get("us_bank_account") or {}
    return bank.get("financial_connections_account")


def _finish(row: PaymentMethodSwitch, status: DeliveryStatus) -> None:
    row.status = status
    row.finished_at = utcnow()


def _describe(exc: Exception) -> str:
    """The error's kind and Stripe's code, never its message (it may quote parameters)."""
    if isinstance(exc, stripe.StripeError):
        return f"{type(exc).__name__} {exc.http_status or ''} {exc.code or ''}".strip()
    return type(exc).__name__


def pending_switch_ids(older_than_seconds: float) -> list[int]:
    """Switches still pending this long after they were asked for: their task was lost (a
    publish that failed after the commit) or is waiting to retry; running one twice is
    harmless."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    with session_scope() as session:
        return delivery.due_ids(session, SWITCHES, now=cutoff, lease=None, limit=SWEEP_BATCH)


def give_up(switch_id: int, reason: str) -> None:
    """Retries ran out: the switch is `failed` (its steps so far stay recorded)."""
    with session_scope() as session:
        row = _lock(session, switch_id)
        if row is not None and row.status == DeliveryStatus.PENDING:
            row.last_error = row.last_error or reason
            _finish(row, DeliveryStatus.FAILED)
