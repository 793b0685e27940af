"""`financial_connections.account.account_numbers_updated`: the account's tokenized number
changed. It is reviewed as a warning (worker/cases/proactive.py: expiring or stopped opens or
joins a proactive case, transactable again resolves it). A number that stopped working also
blocks the account's PaymentMethods at Stripe (`us_bank_account.status_details.blocked`):
those are read from Stripe, kept on the case and sent to the platform
(`relink.payment_method.blocked`)."""

from __future__ import annotations

from typing import Any

import stripe
import structlog
from sqlmodel import Session

from shared.connect import current_account
from shared.events.stripe_event import EventRef
from shared.models import FcAccount, RelinkCase
from shared.platform_webhooks import events, payloads
from shared.stripe_client import make_stripe_client
from shared.stripe_objects import AccountSnapshot
from worker.cases.core.standing import number_of
from worker.cases.proactive import handle_account_warning
from worker.stripe_payments import list_bank_payment_methods

log = structlog.get_logger(__name__)


def blocked_of(methods: list[dict[str, Any]], fc_account: str) -> list[dict[str, str]]:
    """The PaymentMethods on `fc_account` that Stripe blocked, with the reason it gives."""
    found = []
    for method in methods:
        bank = method.get("us_bank_account") or {}
        blocked = (bank.get("status_details") or {}).get("blocked") or {}
        if bank.get("financial_connections_account") == fc_account and blocked:
            reason = str(blocked.get("reason") or "unspecified")
            found.append({"id": str(method["id"]), "reason": reason, "fc_account": fc_account})
    return sorted(found, key=lambda m: m["id"])


def handle_account_numbers(
    session: Session,
    event: EventRef,
    account: AccountSnapshot,
    *,
    client: stripe.StripeClient | None = None,
) -> RelinkCase | None:
    """Review the warning; for a stopped number, record the PaymentMethods it blocked on the
    case (once each) and tell the platform. Return the case."""
    case = handle_account_warning(session, event, account)
    stored = session.get(FcAccount, (account.id, current_account()))
    if case is None or stored is None or not number_of(stored).stopped:
        return case
    if stored.holder_type != "customer" or not stored.holder_id:
        return case  # a connected account's own PaymentMethods are not relink's to read
    methods = list_bank_payment_methods(client or make_stripe_client(), stored.holder_id)
    known = {m["id"] for m in case.blocked_payment_methods or []}
    new = [m for m in blocked_of(methods, stored.id) if m["id"] not in known]
    if not new:
        return case
    case.blocked_payment_methods = [*(case.blocked_payment_methods or []), *new]
    session.add(case)
    events.record_case_event(session, payloads.PAYMENT_METHOD_BLOCKED, case, payment_methods=new)
    log.info("payment_methods_blocked", case_id=case.id, account_id=stored.id, count=len(new))
    return case
