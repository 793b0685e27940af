"""A case's timeline, oldest first: the case opened and resolved, the inbox events naming
its authorization or accounts (while retention keeps their payloads), its emails, its relink
sessions, its payment method switch and the invoices it paid again. `relink cases show`
(cli/cases.py) and the platform API (api/platform_api/service.py) both read it; each
decides how to show an email's address. Helpers here never commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from shared.delivery import DeliveryStatus
from shared.models import EmailOutbox, RelinkAttempt, RelinkCase, WebhookEvent
from shared.payments.recovery_models import OUTCOMES, PaymentRecovery, RecoveryStatus
from shared.payments.switch_models import PaymentMethodSwitch

NO_CUSTOMER = "nothing to switch: the account holder is not a Customer"
STEP_WORDS = {
    "default": "customer's default payment method",
    "subscription": "subscription's payment method",
    "subscription_cleared": "subscription's default cleared (bills the customer's default)",
    "detach": "old payment method detached",
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # case, event, email, attempt, payment_method or invoice
    id: str | int
    what: str
    detail: str
    recipient: str | None = None
    """An email's full address: the reader masks it unless its caller may see it."""
    extra: dict[str, Any] = field(default_factory=dict[str, Any])
    """The operator's details (an email's status and times, a session's mode and result)."""


def case_timeline(session: Session, case: RelinkCase, account_ids: list[str]) -> list[Entry]:
    assert case.id is not None
    entries = [Entry(case.opened_at, "case", case.id, "opened", "")]
    if case.resolved_at is not None:
        entries.append(Entry(case.resolved_at, "case", case.id, "resolved", case.resolution or ""))
    needles = [case.authorization_id, *account_ids]
    # The case's own Stripe account only: the same ids on another account are other objects.
    on_account = (
        col(WebhookEvent.account) == case.stripe_account
        if case.stripe_account
        else col(WebhookEvent.account).is_(None)
    )
    events = session.exec(
        select(WebhookEvent)
        .where(on_account, or_(*(col(WebhookEvent.payload).contains(f'"{n}"') for n in needles)))
        .order_by(col(WebhookEvent.received_at))
    )
    entries += [
        Entry(
            e.received_at,
            "event",
            e.id,
            e.type,
            f"{e.status}, attempts {e.attempts}",
            extra={"last_error": e.last_error},
        )
        for e in events
    ]
    emails = session.exec(
        select(EmailOutbox).where(col(EmailOutbox.case_id) == case.id).order_by(col(EmailOutbox.id))
    )
    entries += [
        Entry(
            m.sent_at or m.send_after,
            "email",
            m.id or 0,
            m.kind,
            f"{m.status}, attempts {m.attempts}",
            recipient=m.recipient,
            extra={
                "status": m.status,
                "send_after": m.send_after,
                "sent_at": m.sent_at,
                "attempts": m.attempts,
                "last_error": m.last_error,
            },
        )
        for m in emails
    ]
    attempts = session.exec(
        select(RelinkAttempt)
        .where(col(RelinkAttempt.case_id) == case.id)
        .order_by(col(RelinkAttempt.id))
    )
    entries += [
        Entry(
            a.created_at,
            "attempt",
            a.session_id,
            f"relink session ({a.mode})",
            a.result or "open",
            extra={"mode": a.mode, "result": a.result, "completed_at": a.completed_at},
        )
        for a in attempts
    ]
    entries += _switch_entries(session, case.id)
    entries += _recovery_entries(session, case.id)
    return sorted(entries, key=lambda entry: entry.at)


def _switch_entries(session: Session, case_id: int) -> list[Entry]:
    """Each write a switch made (the customer's default, each subscription moved, each old
    PaymentMethod detached), and how the switch ended, or why it waits."""
    entries: list[Entry] = []
    switches = session.exec(
        select(PaymentMethodSwitch)
        .where(col(PaymentMethodSwitch.case_id) == case_id)
        .order_by(col(PaymentMethodSwitch.id))
    )
    for row in switches:
        for step in row.steps:
            kind = str(step["step"])
            at = datetime.fromisoformat(step["at"])
            what, now = STEP_WORDS.get(kind, kind), f"now {row.payment_method_id}"
            entries.append(Entry(at, "payment_method", str(step["target"]), what, now))
        detail = {
            DeliveryStatus.SWITCHED: f"{len(row.steps)} writes, attempts {row.attempts}",
            DeliveryStatus.NOTHING_TO_SWITCH: NO_CUSTOMER,
        }.get(DeliveryStatus(row.status), row.last_error or f"attempts {row.attempts}")
        entries.append(
            Entry(
                row.finished_at or row.created_at,
                "payment_method",
                row.payment_method_id,
                f"payment method switch {row.status}",
                detail,
            )
        )
    return entries


RECOVERY_WORDS = {
    RecoveryStatus.RECOVERED: "invoice recovered",
    RecoveryStatus.FAILED: "invoice retry failed",
    RecoveryStatus.CLOSED: "invoice retry failed (closed meanwhile)",
}


def _recovery_entries(session: Session, case_id: int) -> list[Entry]:
    """Each invoice paid again (RECOVER_FAILED_PAYMENTS), and how its payment ended."""
    entries: list[Entry] = []
    rows = session.exec(
        select(PaymentRecovery)
        .where(col(PaymentRecovery.case_id) == case_id)
        .order_by(col(PaymentRecovery.id))
    )
    for row in rows:
        amount = f"{row.amount_due} {row.currency} on {row.payment_method_id}"
        extra = {"status": row.status, "amount_due": row.amount_due, "currency": row.currency}
        at = row.attempted_at or row.created_at
        entries.append(Entry(at, "invoice", row.invoice_id, "invoice retried", amount, extra=extra))
        status = RecoveryStatus(row.status)
        if status in OUTCOMES and row.finished_at is not None:
            detail = row.last_error or amount
            what = RECOVERY_WORDS[status]
            entries.append(
                Entry(row.finished_at, "invoice", row.invoice_id, what, detail, extra=extra)
            )
    return entries
