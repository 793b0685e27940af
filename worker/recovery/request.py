"""Asking the worker to pay again the invoices that failed on the broken account
(RECOVER_FAILED_PAYMENTS) when a case ends repaired or a switch to a new PaymentMethod
succeeds; worker/recovery does it, shared/cases/timeline.py shows it. Helpers here never commit."""

from __future__ import annotations

from sqlmodel import Session

from shared.events.catalog import RECOVER_PAYMENTS
from shared.models import RelinkCase
from shared.queue import publish_after_commit
from shared.settings import get_settings


def request_recovery(
    session: Session, case: RelinkCase, payment_method_id: str | None = None
) -> bool:
    """Queue the recovery after the commit, paying with `payment_method_id` (a switch's new
    PaymentMethod) or, for a repaired account, the PaymentMethod each invoice failed on.
    False while RECOVER_FAILED_PAYMENTS is off."""
    assert case.id is not None
    if not get_settings().recover_failed_payments:
        return False
    publish_after_commit(session, RECOVER_PAYMENTS, [case.id, payment_method_id])
    return True
