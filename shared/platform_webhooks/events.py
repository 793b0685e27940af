"""Writing platform webhooks (issue 12): one `platform_event` row in the transaction of the
change that causes it, its delivery task published after the commit. The worker's cases and
emails and the relink page all write here; worker/platform_webhooks delivers the rows.

A payload is `{"type", "timestamp", "data"}`; `data.sequence` numbers one case's events (one
account's, for `relink.account.*`) without gaps, so a receiver can order them. The relink link
of `relink.case.opened` and `relink.case.reminder_due` is not stored: `body` signs it at
delivery as of the event's creation, the same bytes on every retry.

Helpers here never commit. Nothing is written while PLATFORM_WEBHOOK_URL is unset."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from shared.cases.links import LinkPayload, link_url
from shared.db import iso, table_of, utcnow
from shared.events.catalog import DELIVER_PLATFORM_EVENT
from shared.models import OPEN_CASE_STATES, FcAccount, FcAuthorization, RelinkAttempt, RelinkCase
from shared.payments.recovery_models import PaymentRecovery, RecoveryStatus
from shared.payments.switch_models import STEPS, PaymentMethodSwitch
from shared.platform_webhooks.models import PlatformEvent, PlatformSequence
from shared.platform_webhooks.payloads import (
    ACCOUNT_STATUS_CHANGED,
    CASE_OPENED,
    CASE_REMINDER_DUE,
    INVOICE_RECOVERED,
    INVOICE_RETRIED,
    INVOICE_RETRY_FAILED,
    PAYLOADS,
    PAYMENT_METHOD_CREATED,
    PAYMENT_METHOD_SWITCHED,
    AccountView,
    BlockedPaymentMethod,
    CaseView,
    Holder,
    Inactive,
    Invoice,
    Replaces,
)
from shared.queue import publish_after_commit
from shared.settings import Settings, get_settings

WITH_LINK = (CASE_OPENED, CASE_REMINDER_DUE)


def enabled() -> bool:
    """Whether platform webhooks are written (PLATFORM_WEBHOOK_URL is set)."""
    return get_settings().platform_webhooks


def record_case_event(
    session: Session, event_type: str, case: RelinkCase, **data: Any
) -> PlatformEvent | None:
    """A case event: the case as it now is, its account holder, and `data`."""
    assert case.id is not None
    if not enabled():
        return None
    authorization = session.get(FcAuthorization, (case.authorization_id, case.stripe_account))
    view = {
        "case": case_view(case),
        "account_holder": Holder.of(authorization.holder_type, authorization.holder_id)
        if authorization
        else None,
        **data,
    }
    return record(session, event_type, f"case:{case.id}", view, case_id=case.id)


def record_payment_method(
    session: Session, case: RelinkCase, attempt: RelinkAttempt
) -> PlatformEvent | None:
    """The customer saved a new PaymentMethod from an account linked on the relink page
    (the `no_account` path): Stripe does not update existing payment methods, the platform
    has to switch to this one."""
    assert case.id is not None
    return record_case_event(
        session,
        PAYMENT_METHOD_CREATED,
        case,
        payment_method=attempt.payment_method_id,
        fc_account=attempt.linked_account_id,
        replaces=Replaces(account=attempt.account_id, case=case.id),
    )


def record_payment_method_switched(
    session: Session, case: RelinkCase, switch: PaymentMethodSwitch
) -> PlatformEvent | None:
    """relink made the new PaymentMethod the customer's default (PAYMENT_METHOD_SWITCH)
    and moved the subscriptions and detached the old PaymentMethods it lists."""
    assert case.id is not None
    done = {kind: [s["target"] for s in switch.steps if s["step"] == kind] for kind in STEPS}
    return record_case_event(
        session,
        PAYMENT_METHOD_SWITCHED,
        case,
        payment_method=switch.payment_method_id,
        customer=switch.customer_id,
        customer_default="default" in {s["step"] for s in switch.steps},
        subscriptions=done["subscription"],
        detached=done["detach"],
        replaces=Replaces(account=switch.old_account_id, case=case.id),
    )


def record_invoice(
    session: Session, case: RelinkCase, recovery: PaymentRecovery
) -> PlatformEvent | None:
    """relink paid again an invoice that failed on the broken account (`retried`: the payment
    is under way, ACH settles later), or the payment ended: `recovered` (paid) or
    `retry_failed` (failed, or voided or marked uncollectible meanwhile: `reason`)."""
    event_type = {
        RecoveryStatus.RECOVERED: INVOICE_RECOVERED,
        RecoveryStatus.FAILED: INVOICE_RETRY_FAILED,
        RecoveryStatus.CLOSED: INVOICE_RETRY_FAILED,
    }.get(RecoveryStatus(recovery.status), INVOICE_RETRIED)
    failed = event_type == INVOICE_RETRY_FAILED
    return record_case_event(
        session,
        event_type,
        case,
        invoice=Invoice(
            id=recovery.invoice_id,
            customer=recovery.customer_id,
            amount_due=recovery.amount_due,
            currency=recovery.currency,
        ),
        payment_method=recovery.payment_method_id,
        failed_payment_method=recovery.failed_payment_method_id,
        status=recovery.status,
        **({"reason": recovery.last_error} if failed else {}),
    )


def record_account_status(
    session: Session, account: FcAccount, previous: str | None, case: RelinkCase | None
) -> PlatformEvent | None:
    """relink's view of an account changed: active, inactive (cause, action) or
    disconnected; `as_of` is the Stripe time of the snapshot that says so."""
    inactive = (
        Inactive(cause=account.inactive_cause, action=account.inactive_action)
        if account.status == "inactive"
        else None
    )
    view = {
        "account": AccountView(
            stripe_account=account.stripe_account,
            id=account.id,
            authorization=account.authorization_id,
            status=account.status,
            previous_status=previous,
            inactive=inactive,
            institution_name=account.institution_name,
            last4=account.last4,
            as_of=account.state_at,
        ),
        "account_holder": Holder.of(account.holder_type, account.holder_id),
        "case_id": case.id if case is not None else None,
    }
    # a connected account's own sequence: the same id on another account is another account
    key = ":".join(["account", *filter(None, [account.stripe_account]), account.id])
    return record(session, ACCOUNT_STATUS_CHANGED, key, view, account_id=account.id)


def record(
    session: Session,
    event_type: str,
    sequence_key: str,
    data: Mapping[str, object],
    *,
    case_id: int | None = None,
    account_id: str | None = None,
    now: datetime | None = None,
) -> PlatformEvent | None:
    """Write the event with the next number of `sequence_key`, its payload validated by
    the type's model (a ValidationError writes nothing); deliver it after the commit.
    None (nothing written) while PLATFORM_WEBHOOK_URL is unset."""
    if not enabled():
        return None
    now = now or utcnow()
    sequence = next_sequence(session, sequence_key)
    event = {"type": event_type, "timestamp": now, "data": {"sequence": sequence, **data}}
    payload = PAYLOADS[event_type].model_validate(event).model_dump(mode="json")
    row = PlatformEvent(
        webhook_id=f"msg_{secrets.token_hex(16)}",
        type=event_type,
        case_id=case_id,
        account_id=account_id,
        sequence_key=sequence_key,
        sequence=sequence,
        payload=json.dumps(payload, separators=(",", ":"), sort_keys=True),
        next_attempt_at=now,
        retrying_since=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    publish_after_commit(session, DELIVER_PLATFORM_EVENT, [row.id])
    return row


def next_sequence(session: Session, key: str) -> int:
    """The next number for `key`, taken under the counter row's lock (an upsert), so one
    case's events are numbered in commit order; a rollback gives the number back."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = table_of(PlatformSequence)
    statement = (
        dialect.insert(table)
        .values(key=key, last=1)
        .on_conflict_do_update(index_elements=["key"], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
    return int(session.exec(statement).scalar_one())


def case_view(case: RelinkCase) -> CaseView:
    """The case as the platform sees it; a connected account's case names the account."""
    assert case.id is not None
    blocked = [BlockedPaymentMethod.model_validate(m) for m in case.blocked_payment_methods or []]
    return CaseView(
        stripe_account=case.stripe_account,
        blocked_payment_methods=blocked,
        id=case.id,
        state=case.state,
        authorization=case.authorization_id,
        account=case.account_id,
        cause=case.cause,
        action=case.action,
        opened_at=case.opened_at,
        resolved_at=case.resolved_at,
        resolution=case.resolution,
    )


def body(row: PlatformEvent, settings: Settings | None = None) -> str:
    """The bytes to POST: the stored payload, plus the case's relink link (signed as of the
    event's creation) for an open case's `opened` and `reminder_due`."""
    if row.type not in WITH_LINK:
        return row.payload
    settings = settings or get_settings()
    payload = json.loads(row.payload)
    case: dict[str, Any] = payload["data"].get("case") or {}
    if case.get("state") in OPEN_CASE_STATES and case.get("account"):
        at = int(row.created_at.timestamp())
        link = LinkPayload(
            int(case["id"]),
            str(case["account"]),
            str(case["authorization"]),
            str(case.get("stripe_account") or ""),
        )
        payload["data"]["link"] = link_url(link, settings, at=at)
        expires = row.created_at + timedelta(seconds=settings.link_max_age)
        payload["data"]["link_expires_at"] = iso(expires)
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)
