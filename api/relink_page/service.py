"""What the relink page does, as plain functions: open a Financial Connections session for a
link, read how it ended, and save a newly linked account as a payment method.

Stripe is asked, never the browser: every outcome is read back from the session or the
SetupIntent server-side. A `client_secret` is returned to the caller to be put in the page
body and is never stored or logged. Helpers take a database session and never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import stripe
import structlog
from sqlmodel import Session, select

from api.relink_page.outcomes import (
    Collect,
    ConfirmSetup,
    Failed,
    FreshLink,
    NewAccount,
    Outcome,
    PaymentMethodSaved,
    Reconnected,
    StripeUnavailable,
    UnknownCase,
    UnknownSession,
    Unrepairable,
)
from api.relink_page.sessions import (
    any_account_session_params,
    bank_of,
    parse_account,
    relink_session_params,
)
from shared import outbox, stripe_client
from shared.catalog import RECONCILE_AUTHORIZATION
from shared.db import utcnow
from shared.links import LinkPayload
from shared.models import CaseState, FcAccount, RelinkAttempt, RelinkCase
from shared.queue import publish_after_commit
from shared.stripe_objects import AccountSnapshot

log = structlog.get_logger(__name__)
T = TypeVar("T")


@contextmanager
def stripe_errors(what: str) -> Iterator[None]:
    """A Stripe error inside the block is StripeUnavailable (the 503 page)."""
    try:
        yield
    except stripe.StripeError as exc:
        log.warning("stripe_call_failed", call=what, code=exc.code, status=exc.http_status)
        raise StripeUnavailable(f"Stripe refused {what}") from None


def _call(what: str, call: Callable[..., T], *args: Any) -> T:
    with stripe_errors(what):
        return call(*args)


def _case(db: Session, payload: LinkPayload) -> RelinkCase:
    case = db.get(RelinkCase, payload.case_id)
    if case is None or case.authorization_id != payload.authorization_id:
        raise UnknownCase(f"case {payload.case_id} does not exist")
    return case


# GET /relink/{token}


def open_relink(db: Session, payload: LinkPayload) -> Outcome:
    """Check the account's live state, then open a relink session for it."""
    case = _case(db, payload)
    account = db.get(FcAccount, payload.account_id)
    if case.state == CaseState.RESOLVED:
        return Reconnected(bank_of(account))
    if case.state == CaseState.UNREPAIRABLE:
        return Unrepairable(bank_of(account))
    client = stripe_client.make_stripe_client()
    live = AccountSnapshot.parse(
        _call("account retrieve", stripe_client.retrieve_account, client, payload.account_id)
    )
    if not live.needs_relink:
        publish_after_commit(db, RECONCILE_AUTHORIZATION, [payload.authorization_id])
        return Reconnected(bank_of(account, live))
    params = relink_session_params(payload, live, account)
    return _open_session(db, client, case, payload.account_id, "account", params, account, live)


def _open_session(
    db: Session,
    client: stripe.StripeClient,
    case: RelinkCase,
    account_id: str,
    mode: str,
    params: dict[str, Any],
    account: FcAccount | None,
    live: AccountSnapshot | None = None,
) -> Collect:
    created = _call("session create", stripe_client.create_fc_session, client, params)
    db.add(
        RelinkAttempt(case_id=case.id, account_id=account_id, session_id=created["id"], mode=mode)
    )
    log.info("relink_session_opened", case_id=case.id, session_id=created["id"], mode=mode)
    return Collect(bank_of(account, live), created["id"], str(created["client_secret"]), mode)


# POST /relink/{token}/complete


def _attempt(db: Session, case: RelinkCase, **where: str) -> RelinkAttempt:
    query = select(RelinkAttempt).where(RelinkAttempt.case_id == case.id)
    for column, value in where.items():
        query = query.where(getattr(RelinkAttempt, column) == value)
    attempt = db.exec(query).first()
    if attempt is None:
        raise UnknownSession("no attempt of this link has that id")
    return attempt


def _finish(attempt: RelinkAttempt, result: str) -> None:
    attempt.result = result
    attempt.completed_at = utcnow()


def complete_relink(db: Session, payload: LinkPayload, session_id: str) -> Outcome:
    """Read the session's `relink_result` from Stripe and record what happened."""
    case = _case(db, payload)
    attempt = _attempt(db, case, session_id=session_id)
    account = db.get(FcAccount, payload.account_id)
    client = stripe_client.make_stripe_client()
    session = _call("session retrieve", stripe_client.retrieve_fc_session, client, session_id)
    result = session.get("relink_result") or {}
    bank = bank_of(account)
    if result.get("account") or result.get("authorization"):
        if attempt.mode == "authorization":
            linked = [a for a in (session.get("accounts") or {}).get("data") or []]
            unknown = [a for a in linked if db.get(FcAccount, a["id"]) is None]
            if unknown:
                attempt.linked_account_id = unknown[0]["id"]
                _finish(attempt, "new_account")
                name = _holder_name(client, account)
                return NewAccount(bank_of(account, parse_account(unknown[0])), session_id, name)
            attempt.linked_account_id = linked[0]["id"] if linked else None
        _finish(attempt, "account" if result.get("account") else "authorization")
        authorization = result.get("authorization") or case.authorization_id
        publish_after_commit(db, RECONCILE_AUTHORIZATION, [authorization])
        log.info("relink_succeeded", case_id=case.id, session_id=session_id)
        return Reconnected(bank)
    reason = result.get("failure_reason") or str(session.get("status") or "other")
    _finish(attempt, reason)
    log.info("relink_failed", case_id=case.id, session_id=session_id, reason=reason)
    if reason == "no_account" and attempt.mode == "account":
        params = any_account_session_params(case.authorization_id, account)
        return _open_session(db, client, case, payload.account_id, "authorization", params, account)
    return Failed(bank, reason)


def _holder_name(client: stripe.StripeClient, account: FcAccount | None) -> str | None:
    """The customer's name on file at Stripe, to prefill the mandate form."""
    if account is None or account.holder_type != "customer" or not account.holder_id:
        return None
    try:
        return stripe_client.retrieve_customer_name(client, account.holder_id)
    except stripe.StripeError:
        return None


# POST /relink/{token}/setup and /relink/{token}/setup/complete


def create_setup(db: Session, payload: LinkPayload, session_id: str, name: str) -> ConfirmSetup:
    """A SetupIntent for the account the customer just linked, to be confirmed by Stripe.js
    (`confirmUsBankAccountSetup`), which records the customer's online mandate acceptance."""
    case = _case(db, payload)
    attempt = _attempt(db, case, session_id=session_id)
    if attempt.result != "new_account" or attempt.linked_account_id is None:
        raise UnknownSession("that session did not link a new account")
    account = db.get(FcAccount, payload.account_id)
    params: dict[str, Any] = {
        "allowed_payment_method_types": ["us_bank_account"],
        "payment_method_data": {
            "type": "us_bank_account",
            "us_bank_account": {"financial_connections_account": attempt.linked_account_id},
            "billing_details": {"name": name},
        },
        "usage": "off_session",
    }
    if account is not None and account.holder_type == "customer" and account.holder_id:
        params["customer"] = account.holder_id
    client = stripe_client.make_stripe_client()
    intent = _call("setup intent create", stripe_client.create_setup_intent, client, params)
    attempt.setup_intent_id = intent["id"]
    log.info("setup_intent_created", case_id=case.id, setup_intent_id=intent["id"])
    try:  # only for the page's wording
        linked = parse_account(stripe_client.retrieve_account(client, attempt.linked_account_id))
    except stripe.StripeError:
        linked = None
    return ConfirmSetup(bank_of(account, linked), intent["id"], str(intent["client_secret"]), name)


def complete_setup(db: Session, payload: LinkPayload, setup_intent_id: str) -> Outcome:
    case = _case(db, payload)
    attempt = _attempt(db, case, setup_intent_id=setup_intent_id)
    account = db.get(FcAccount, payload.account_id)
    client = stripe_client.make_stripe_client()
    intent = _call(
        "setup intent retrieve", stripe_client.retrieve_setup_intent, client, setup_intent_id
    )
    if intent.get("status") not in ("succeeded", "processing") or not intent.get("payment_method"):
        attempt.result = "setup_" + str(intent.get("status") or "failed")
        return Failed(bank_of(account), "setup")
    attempt.payment_method_id = str(intent["payment_method"])
    _finish(attempt, "payment_method")
    case.payment_method_id = attempt.payment_method_id
    publish_after_commit(db, RECONCILE_AUTHORIZATION, [case.authorization_id])
    log.info("payment_method_saved", case_id=case.id, setup_intent_id=setup_intent_id)
    return PaymentMethodSaved(bank_of(account))


# POST /relink/{token}/fresh


def request_fresh_link(db: Session, payload: LinkPayload) -> Outcome:
    """Email a fresh link to the address on file (never one from the request), through the
    same outbox path and FRESH_LINK_INTERVAL_SECONDS limit as `relink emails resend`."""
    case = _case(db, payload)
    if case.state == CaseState.RESOLVED:
        return Reconnected(bank_of(db.get(FcAccount, payload.account_id)))
    assert case.id is not None
    return FreshLink(sent=outbox.request_fresh_link(db, case.id) == "queued")
