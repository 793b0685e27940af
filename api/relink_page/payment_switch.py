"""Switching the platform's payments to a PaymentMethod saved on the relink page's
no_account path (PAYMENT_METHOD_SWITCH): the page asks for it (`request_switch`, a row and a
task published after its commit); worker/payments makes the writes; shared/cases/timeline.py
shows them on the case.

Helpers here never commit."""

from __future__ import annotations

from sqlmodel import Session

from shared.events.catalog import SWITCH_PAYMENT_METHOD
from shared.models import FcAccount, RelinkAttempt, RelinkCase
from shared.payments.switch_models import PaymentMethodSwitch
from shared.queue import publish_after_commit
from shared.settings import get_settings


def request_switch(
    session: Session, case: RelinkCase, attempt: RelinkAttempt, account: FcAccount | None
) -> PaymentMethodSwitch | None:
    """A switch to the attempt's new PaymentMethod, done by the worker after the commit;
    None while PAYMENT_METHOD_SWITCH is off."""
    assert case.id is not None
    assert attempt.payment_method_id is not None
    if not get_settings().switches_payment_method:
        return None
    customer = None
    if account is not None and account.holder_type == "customer":
        customer = account.holder_id
    row = PaymentMethodSwitch(
        case_id=case.id,
        payment_method_id=attempt.payment_method_id,
        old_account_id=attempt.account_id,
        customer_id=customer,
    )
    session.add(row)
    session.flush()
    publish_after_commit(session, SWITCH_PAYMENT_METHOD, [row.id])
    return row
