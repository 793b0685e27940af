"""Saving an account the customer linked at the bank (a relink that ended `new_account`) as a
payment method: POST /relink/{token}/setup and /relink/{token}/setup/complete. The attempt's
one SetupIntent is created once and read back after (never a second for a replay); like
service.py, no transaction is open while Stripe is called."""

from __future__ import annotations

from typing import Any

import structlog

from api.relink_page import stripe_calls
from api.relink_page.fc_sessions import bank_of, parse_account, setup_intent_params
from api.relink_page.outcomes import (
    ConfirmSetup,
    Failed,
    Outcome,
    PaymentMethodSaved,
    UnknownSession,
)
from api.relink_page.payment_switch import request_switch
from api.relink_page.repository import (
    can_go_on,
    closed,
    find_attempt,
    finish,
    load_case,
    reconcile_args,
)
from shared import metrics, stripe_client
from shared.cases.links import LinkPayload
from shared.db import session_scope
from shared.events.catalog import RECONCILE_AUTHORIZATION
from shared.models import FcAccount
from shared.platform_webhooks import events
from shared.queue import publish_after_commit

log = structlog.get_logger(__name__)
CONFIRMED = ("succeeded", "processing")


def create_setup(
    payload: LinkPayload, session_id: str, name: str, acceptance: dict[str, Any] | None = None
) -> Outcome:
    """The attempt's SetupIntent for the account the customer just linked (created once,
    then read back), to be confirmed by Stripe.js (`confirmUsBankAccountSetup`), which
    records the customer's online mandate acceptance. With `acceptance` (RELINK_UI=
    stripe_hosted: no Stripe.js, the customer accepted the mandate on relink's page) it is
    created confirmed with that `mandate_data` and the payment method saved at once."""
    with session_scope() as db:
        case = load_case(db, payload)
        account = db.get(FcAccount, (payload.account_id, payload.stripe_account))
        attempt = find_attempt(db, case, session_id=session_id)
    if attempt.result not in ("new_account", "payment_method") or not attempt.linked_account_id:
        raise UnknownSession("that session did not link a new account")
    if not can_go_on(case, attempt):
        return closed(case, account)
    if attempt.payment_method_id:
        return PaymentMethodSaved(bank_of(account))
    client = stripe_calls.client_for(case)
    intent, shown_name = None, None
    if attempt.setup_intent_id:
        intent = stripe_calls.call(
            "setup intent retrieve",
            stripe_client.retrieve_setup_intent,
            client,
            attempt.setup_intent_id,
        )
        if intent.get("status") in CONFIRMED and intent.get("payment_method"):
            return _save_payment_method(payload, intent, account)
        if intent.get("status") == "canceled" or acceptance is not None:
            intent = None  # hosted: an unconfirmed one is replaced by a confirmed one
    if intent is None:
        params = setup_intent_params(attempt.linked_account_id, name, account, acceptance)
        key = f"relink-attempt-{attempt.id}-setup-after-{attempt.setup_intent_id or 0}"
        key += "-confirmed" if acceptance is not None else ""
        intent = stripe_calls.call(
            "setup intent create",
            stripe_client.create_setup_intent,
            client,
            params,
            idempotency_key=key,
        )
        with session_scope() as db:
            case = load_case(db, payload, lock=True)
            find_attempt(db, case, session_id=session_id).setup_intent_id = intent["id"]
        log.info("setup_intent_created", case_id=case.id, setup_intent_id=intent["id"])
        shown_name = name
        if acceptance is not None:
            if intent.get("status") in CONFIRMED and intent.get("payment_method"):
                return _save_payment_method(payload, intent, account)
            return Failed(bank_of(account), "setup")
    linked = stripe_calls.best_effort(  # only for the page's wording
        stripe_client.retrieve_account, client, attempt.linked_account_id
    )
    bank = bank_of(account, parse_account(linked))
    secret = str(intent["client_secret"])
    return ConfirmSetup(bank, intent["id"], secret, shown_name, payload.stripe_account)


def complete_setup(payload: LinkPayload, setup_intent_id: str) -> Outcome:
    """Read the SetupIntent Stripe.js confirmed; a payment method → saved on the case."""
    with session_scope() as db:
        case = load_case(db, payload)
        account = db.get(FcAccount, (payload.account_id, payload.stripe_account))
        attempt = find_attempt(db, case, setup_intent_id=setup_intent_id)
    if not can_go_on(case, attempt):
        return closed(case, account)
    if attempt.payment_method_id:
        return PaymentMethodSaved(bank_of(account))
    client = stripe_calls.client_for(case)
    intent = stripe_calls.call(
        "setup intent retrieve", stripe_client.retrieve_setup_intent, client, setup_intent_id
    )
    if intent.get("status") not in CONFIRMED or not intent.get("payment_method"):
        return Failed(bank_of(account), "setup")  # not confirmed (yet): the customer may retry
    return _save_payment_method(payload, intent, account)


def _save_payment_method(
    payload: LinkPayload, intent: dict[str, Any], account: FcAccount | None
) -> Outcome:
    with session_scope() as db:
        case = load_case(db, payload, lock=True)
        attempt = find_attempt(db, case, setup_intent_id=intent["id"])
        if not attempt.payment_method_id:
            attempt.payment_method_id = str(intent["payment_method"])
            finish(attempt, "payment_method")
            if case.payment_method_id is None:
                metrics.count_step(db, "new_account_saved")
            case.payment_method_id = attempt.payment_method_id
            events.record_payment_method(db, case, attempt)
            request_switch(db, case, attempt, account)  # the worker writes, after the commit
            publish_after_commit(db, RECONCILE_AUTHORIZATION, reconcile_args(case))
            log.info("payment_method_saved", case_id=case.id, setup_intent_id=intent["id"])
    return PaymentMethodSaved(bank_of(account))
