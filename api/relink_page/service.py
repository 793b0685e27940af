"""What the relink page does, as plain functions: open a Financial Connections session for a
link, read how it ended, and save a newly linked account as a payment method.

Stripe is asked, never the browser: every outcome is read back from the session or the
SetupIntent server-side. A `client_secret` is returned to the caller to be put in the page
body and is never stored or logged. Helpers take a database session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe
import structlog
from sqlmodel import Session, select

from shared import outbox
from shared.catalog import RECONCILE_AUTHORIZATION
from shared.db import utcnow
from shared.links import LinkPayload
from shared.models import CaseState, FcAccount, RelinkAttempt, RelinkCase
from shared.queue import publish_after_commit
from shared.stripe_client import make_stripe_client, preview_options

log = structlog.get_logger(__name__)

ANY_ACCOUNT_SUBCATEGORIES = ["checking", "savings"]


# errors (the api maps them to HTTP)


class RelinkError(Exception):
    """A relink request that cannot go on."""


class UnknownCase(RelinkError):
    """The link is validly signed but its case is gone."""


class UnknownSession(RelinkError):
    """A session (or SetupIntent) id that no attempt of this link's case recorded."""


class StripeUnavailable(RelinkError):
    """Stripe refused or could not be reached; the customer should retry later."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


# outcomes (the api renders them)


@dataclass(frozen=True)
class Bank:
    """What the page says about the bank link: never an id or a secret."""

    institution: str
    display_name: str | None = None
    last4: str | None = None


@dataclass(frozen=True)
class Reconnected:
    bank: Bank


@dataclass(frozen=True)
class Unrepairable:
    bank: Bank


@dataclass(frozen=True)
class Collect:
    """Run `collectFinancialConnectionsAccounts`: relink the account, or (mode
    `authorization`) link any checking or savings account at the institution."""

    bank: Bank
    session_id: str
    client_secret: str
    mode: str


@dataclass(frozen=True)
class Failed:
    bank: Bank
    reason: str  # no_authorization, other, cancelled, pending


@dataclass(frozen=True)
class NewAccount:
    """A newly linked account: ask for the account holder's name before the mandate."""

    bank: Bank
    session_id: str
    name: str | None


@dataclass(frozen=True)
class ConfirmSetup:
    bank: Bank
    setup_intent_id: str
    client_secret: str
    name: str


@dataclass(frozen=True)
class PaymentMethodSaved:
    bank: Bank


@dataclass(frozen=True)
class FreshLink:
    sent: bool  # False: one was asked for moments ago


Outcome = (
    Reconnected
    | Unrepairable
    | Collect
    | Failed
    | NewAccount
    | ConfirmSetup
    | PaymentMethodSaved
    | FreshLink
)


# helpers


def _stripe_call(what: str, call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        result = call(*args, **kwargs)
    except stripe.StripeError as exc:
        log.warning("stripe_call_failed", call=what, code=exc.code, status=exc.http_status)
        raise StripeUnavailable(f"Stripe refused {what}", code=exc.code) from None
    return dict(result.to_dict())


def _case(db: Session, payload: LinkPayload, *, lock: bool = False) -> RelinkCase:
    case = db.get(RelinkCase, payload.case_id, with_for_update=lock)
    if case is None or case.authorization_id != payload.authorization_id:
        raise UnknownCase(f"case {payload.case_id} does not exist")
    return case


def _bank(account: FcAccount | None, live: dict[str, Any] | None = None) -> Bank:
    live = live or {}
    return Bank(
        institution=live.get("institution_name")
        or (account.institution_name if account else None)
        or "your bank",
        display_name=live.get("display_name") or (account.display_name if account else None),
        last4=live.get("last4") or (account.last4 if account else None),
    )


def _holder_param(live: dict[str, Any], account: FcAccount | None) -> dict[str, str] | None:
    holder = live.get("account_holder")
    if isinstance(holder, dict) and holder.get("type") in ("customer", "account"):
        kind = str(holder["type"])
        if holder.get(kind):
            return {"type": kind, kind: str(holder[kind])}
    if account is not None and account.holder_type in ("customer", "account") and account.holder_id:
        return {"type": account.holder_type, account.holder_type: account.holder_id}
    return None


def relink_permissions(permissions: list[str]) -> list[str]:
    """The account's permissions plus `payment_method`, in order, without repeats."""
    return list(dict.fromkeys([*permissions, "payment_method"]))


def needs_relink(live: dict[str, Any]) -> bool:
    if live.get("status") != "active":
        return True
    active = (live.get("status_details") or {}).get("active") or {}
    return active.get("action") == "relink_required"


# GET /relink/{token}


def open_relink(db: Session, payload: LinkPayload) -> Outcome:
    """Check the account's live state, then open a relink session for it."""
    case = _case(db, payload)
    account = db.get(FcAccount, payload.account_id)
    if case.state == CaseState.RESOLVED:
        return Reconnected(_bank(account))
    if case.state == CaseState.UNREPAIRABLE:
        return Unrepairable(_bank(account))
    client = make_stripe_client()
    live = _stripe_call(
        "account retrieve",
        client.v1.financial_connections.accounts.retrieve,
        payload.account_id,
        options=preview_options(),
    )
    if not needs_relink(live):
        publish_after_commit(db, RECONCILE_AUTHORIZATION, [payload.authorization_id])
        return Reconnected(_bank(account, live))
    params = relink_session_params(payload, live, account)
    return _open_session(db, client, case, payload.account_id, "account", params, account, live)


def relink_session_params(
    payload: LinkPayload, live: dict[str, Any], account: FcAccount | None
) -> dict[str, Any]:
    """Relink exactly this account: its holder (omitted when it has none), its permissions
    plus `payment_method`, its authorization and itself."""
    params: dict[str, Any] = {
        "permissions": relink_permissions(
            list(live.get("permissions") or (account.permissions if account else []))
        ),
        "relink_options": {
            "authorization": payload.authorization_id,
            "account": payload.account_id,
        },
    }
    holder = _holder_param(live, account)
    if holder is not None:
        params["account_holder"] = holder
    return params


def any_account_session_params(authorization_id: str, account: FcAccount | None) -> dict[str, Any]:
    """Relink the authorization with any one checking or savings account at the bank."""
    params: dict[str, Any] = {
        "permissions": relink_permissions(account.permissions if account else []),
        "relink_options": {"authorization": authorization_id},
        "filters": {"account_subcategories": ANY_ACCOUNT_SUBCATEGORIES},
        "limits": {"accounts": 1},
    }
    holder = _holder_param({}, account)
    if holder is not None:
        params["account_holder"] = holder
    return params


def _open_session(
    db: Session,
    client: stripe.StripeClient,
    case: RelinkCase,
    account_id: str,
    mode: str,
    params: dict[str, Any],
    account: FcAccount | None,
    live: dict[str, Any] | None = None,
) -> Collect:
    created = _stripe_call(
        "session create",
        client.v1.financial_connections.sessions.create,
        params=params,
        options=preview_options(),
    )
    db.add(
        RelinkAttempt(case_id=case.id, account_id=account_id, session_id=created["id"], mode=mode)
    )
    log.info("relink_session_opened", case_id=case.id, session_id=created["id"], mode=mode)
    return Collect(_bank(account, live), created["id"], str(created["client_secret"]), mode)


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
    client = make_stripe_client()
    session = _stripe_call(
        "session retrieve",
        client.v1.financial_connections.sessions.retrieve,
        session_id,
        options=preview_options(),
    )
    result = session.get("relink_result") or {}
    bank = _bank(account)
    if result.get("account") or result.get("authorization"):
        if attempt.mode == "authorization":
            linked = [a["id"] for a in (session.get("accounts") or {}).get("data") or []]
            unknown = [a for a in linked if db.get(FcAccount, a) is None]
            if unknown:
                attempt.linked_account_id = unknown[0]
                _finish(attempt, "new_account")
                name = _holder_name(client, account)
                new = next(a for a in session["accounts"]["data"] if a["id"] == unknown[0])
                return NewAccount(_bank(account, new), session_id, name)
            attempt.linked_account_id = linked[0] if linked else None
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
        customer = client.v1.customers.retrieve(account.holder_id)
    except stripe.StripeError:
        return None
    return getattr(customer, "name", None) or None


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
    client = make_stripe_client()
    intent = _stripe_call(
        "setup intent create",
        client.v1.setup_intents.create,
        params=params,
        options=preview_options(),
    )
    attempt.setup_intent_id = intent["id"]
    log.info("setup_intent_created", case_id=case.id, setup_intent_id=intent["id"])
    try:
        linked = client.v1.financial_connections.accounts.retrieve(
            attempt.linked_account_id, options=preview_options()
        ).to_dict()
    except stripe.StripeError:  # only for the page's wording
        linked = {}
    return ConfirmSetup(_bank(account, linked), intent["id"], str(intent["client_secret"]), name)


def complete_setup(db: Session, payload: LinkPayload, setup_intent_id: str) -> Outcome:
    case = _case(db, payload)
    attempt = _attempt(db, case, setup_intent_id=setup_intent_id)
    account = db.get(FcAccount, payload.account_id)
    client = make_stripe_client()
    intent = _stripe_call(
        "setup intent retrieve",
        client.v1.setup_intents.retrieve,
        setup_intent_id,
        options=preview_options(),
    )
    if intent.get("status") not in ("succeeded", "processing") or not intent.get("payment_method"):
        attempt.result = "setup_" + str(intent.get("status") or "failed")
        return Failed(_bank(account), "setup")
    attempt.payment_method_id = str(intent["payment_method"])
    _finish(attempt, "payment_method")
    case.payment_method_id = attempt.payment_method_id
    publish_after_commit(db, RECONCILE_AUTHORIZATION, [case.authorization_id])
    log.info("payment_method_saved", case_id=case.id, setup_intent_id=setup_intent_id)
    return PaymentMethodSaved(_bank(account))


# POST /relink/{token}/fresh


def request_fresh_link(db: Session, payload: LinkPayload) -> Outcome:
    """Email a fresh link to the address on file (never one from the request), through the
    same outbox path and FRESH_LINK_INTERVAL_SECONDS limit as `relink emails resend`."""
    case = _case(db, payload)
    if case.state == CaseState.RESOLVED:
        return Reconnected(_bank(db.get(FcAccount, payload.account_id)))
    assert case.id is not None
    return FreshLink(sent=outbox.request_fresh_link(db, case.id) == "queued")
