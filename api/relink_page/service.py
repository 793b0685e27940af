"""What the relink page does, as plain functions, one per route: show a link's page, open (or
reuse) a Financial Connections session when the customer presses its button, read how it
ended, and save a newly linked account as a payment method.

Each function is its request's unit-of-work owner, and no transaction stays open while Stripe
is called: it reads what it needs in one unit of work, calls Stripe with none open (after
taking the case's request token), then records the result in another, under the case's row
lock and after re-checking what it read. Showing a link calls Stripe for nothing and writes
nothing but, on GET, when the link was first opened (mail scanners open every link). Stripe
is asked, never the browser: every outcome is read back from the session or the SetupIntent.
A `client_secret` is handed to the caller for the page body and is never stored or logged.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Any

import stripe
import structlog
from sqlalchemy import update
from sqlmodel import Session, col

from api.relink_page import stripe_calls
from api.relink_page.fc_sessions import (
    any_account_session_params,
    bank_of,
    hosted_params,
    parse_account,
    relink_session_params,
)
from api.relink_page.outcomes import (
    Bank,
    Collect,
    Failed,
    FreshLink,
    NewAccount,
    Outcome,
    Reconnected,
    Redirect,
    Start,
    StripeUnavailable,
    UnknownSession,
)
from api.relink_page.repository import (
    SUCCEEDED,
    attempts_of,
    can_go_on,
    closed,
    find_attempt,
    finish,
    load_case,
    mark_replaced,
    next_mode,
    reconcile_args,
    recorded,
    reusable,
)
from shared import metrics, stripe_client
from shared.cases.links import LinkPayload, revoked
from shared.db import session_scope, utcnow
from shared.emails import enqueue
from shared.events.catalog import RECONCILE_AUTHORIZATION
from shared.models import FcAccount, RelinkAttempt, RelinkCase
from shared.queue import publish_after_commit
from shared.settings import get_settings
from shared.stripe_objects import AccountSnapshot

log = structlog.get_logger(__name__)
OPEN_SESSION_STATUSES = (None, "pending", "active")


def _read(payload: LinkPayload) -> tuple[RelinkCase, FcAccount | None, list[RelinkAttempt]]:
    with session_scope() as db:
        case = load_case(db, payload)
        return (
            case,
            db.get(FcAccount, (payload.account_id, payload.stripe_account)),
            attempts_of(db, case.id),
        )


def link_revoked(payload: LinkPayload, signed_at: datetime) -> bool:
    """Whether the link was signed before its case's links were revoked (a contact change or
    the API's revoke): it then reads as expired, with no fresh link offered."""
    with session_scope() as db:
        case = db.get(RelinkCase, payload.case_id)
        return case is not None and revoked(signed_at, case.links_revoked_at)


# GET and HEAD /relink/{token}


def show(payload: LinkPayload) -> Outcome:
    """The link's page, from what is stored: no Stripe call, no write."""
    case, account, tried = _read(payload)
    latest = tried[-1] if tried else None
    done = latest is not None and (latest.result == "new_account" or latest.result in SUCCEEDED)
    if latest is not None and done and can_go_on(case, latest):
        return recorded(latest, account)  # a reload after the relink
    if not can_go_on(case):
        return closed(case, account)
    return Start(bank_of(account), next_mode(tried))


def record_opened(payload: LinkPayload) -> Outcome:
    """POST /opened, sent by the start page's script: the first opening of a link that can
    still be used, recorded once for the operations dashboard's funnel. GET and HEAD write
    nothing, so the mail scanners that fetch every link (and run no script) count for
    nothing."""
    outcome = show(payload)
    if isinstance(outcome, Start):
        with session_scope() as db:
            first = db.execute(
                update(RelinkCase)
                .where(col(RelinkCase.id) == payload.case_id)
                .where(col(RelinkCase.link_first_opened_at).is_(None))
                .values(link_first_opened_at=utcnow())
            )
            if first.rowcount == 1:  # type: ignore[attr-defined]
                metrics.count_step(db, "link_opened")
    return outcome


# POST /relink/{token}/session: the page's button


def open_fc_session(payload: LinkPayload, return_url: str | None = None) -> Outcome:
    """The session the customer relinks in: the case's open one read back, else a new one.
    Stripe.js collects it on this page; with `return_url` (RELINK_UI=stripe_hosted) the
    customer goes to its hosted `url`, which sends them back there."""
    case, account, tried = _read(payload)
    if not can_go_on(case):
        return closed(case, account)
    mode = next_mode(tried)
    client = stripe_calls.client_for(case)
    latest = reusable(tried, mode, utcnow())
    if latest is not None:
        fc_session = stripe_calls.call(
            "session retrieve", stripe_client.retrieve_fc_session, client, latest.session_id
        )
        if _still_open(fc_session, return_url):
            log.info("relink_session_reused", case_id=case.id, session_id=latest.session_id)
            return _handoff(bank_of(account), fc_session, mode, return_url, payload)
    live: AccountSnapshot | None = None
    if mode == "account":
        answer = stripe_calls.call(
            "account retrieve", stripe_client.retrieve_account, client, payload.account_id
        )
        live = AccountSnapshot.parse(answer)
        if not live.needs_relink(get_settings().horizon_end(utcnow())):  # relinked elsewhere
            with session_scope() as db:
                publish_after_commit(db, RECONCILE_AUTHORIZATION, reconcile_args(case))
            return Reconnected(bank_of(account, live))
        params = relink_session_params(payload, live, account)
    else:
        params = any_account_session_params(case.authorization_id, account)
    # One key per case and previous attempt: a double press, or a retry after the row below
    # failed to commit, gets the same session back from Stripe instead of a second one.
    key = f"relink-{case.authorization_id}-{case.id}-after-{tried[-1].id if tried else 0}"
    if return_url is not None:  # one hosted session per link it returns to
        params |= hosted_params(return_url)
        key += "-hosted-" + hashlib.sha256(return_url.encode()).hexdigest()[:16]
    created = stripe_calls.call(
        "session create", stripe_client.create_fc_session, client, params, idempotency_key=key
    )
    with session_scope() as db:
        case = load_case(db, payload, lock=True)
        if not can_go_on(case):
            return closed(case, account)
        earlier = attempts_of(db, case.id)
        if not any(a.session_id == created["id"] for a in earlier):
            attempt = RelinkAttempt(
                case_id=case.id, account_id=payload.account_id, session_id=created["id"], mode=mode
            )
            db.add(attempt)
            if not earlier:
                metrics.count_step(db, "session_started")
    log.info("relink_session_opened", case_id=case.id, session_id=created["id"], mode=mode)
    return _handoff(bank_of(account, live), created, mode, return_url, payload)


def _still_open(fc_session: dict[str, Any], return_url: str | None) -> bool:
    """Unfinished, and of this page's kind: Stripe.js's, or hosted returning to this link."""
    returns_to = fc_session.get("return_url")
    return (
        not fc_session.get("relink_result")
        and fc_session.get("status") in OPEN_SESSION_STATUSES
        and returns_to == return_url
    )


def _handoff(
    bank: Bank, fc_session: dict[str, Any], mode: str, return_url: str | None, payload: LinkPayload
) -> Outcome:
    """Stripe.js's session (its client secret for the page body; Stripe.js on the link's
    connected account, if any), or the hosted page."""
    if return_url is None:
        secret = str(fc_session["client_secret"])
        return Collect(bank, fc_session["id"], secret, mode, payload.stripe_account)
    if not fc_session.get("url"):
        raise StripeUnavailable("the hosted session has no url")
    return Redirect(str(fc_session["url"]))


# POST /relink/{token}/complete, and GET /relink/{token}/return from Stripe's hosted page


def complete_relink(payload: LinkPayload, session_id: str) -> Outcome:
    """Read the session's `relink_result` from Stripe and record what happened."""
    with session_scope() as db:
        case = load_case(db, payload)
        account = db.get(FcAccount, (payload.account_id, payload.stripe_account))
        attempt = find_attempt(db, case, session_id=session_id)
    if not can_go_on(case, attempt):
        return closed(case, account)
    if attempt.result is not None:
        return recorded(attempt, account)
    client = stripe_calls.client_for(case)
    fc_session = stripe_calls.call(
        "session retrieve", stripe_client.retrieve_fc_session, client, session_id
    )
    with session_scope() as db:
        case = load_case(db, payload, lock=True)
        attempt = find_attempt(db, case, session_id=session_id)
        if attempt.result is not None:  # another request recorded it meanwhile
            return recorded(attempt, account)
        outcome = _record_fc_session(db, case, attempt, fc_session, account)
    if isinstance(outcome, NewAccount):
        outcome = replace(outcome, name=_holder_name(client, account))
    return outcome


def complete_returned(payload: LinkPayload) -> Outcome:
    """Stripe's hosted page sent the customer back: the link's latest attempt is read back
    exactly as complete_relink does (nothing in the request names the session); a replayed
    return shows what was recorded and calls nobody."""
    with session_scope() as db:
        tried = attempts_of(db, load_case(db, payload).id)
    if not tried:
        raise UnknownSession("no session was opened from this link")
    return complete_relink(payload, tried[-1].session_id)


def _linked_in(
    attempt: RelinkAttempt, linked: dict[str, Any], db: Session, stripe_account: str
) -> bool:
    """Whether the session linked this account anew: Stripe created it after the second the
    attempt opened in, or relink has never seen it. Not the row alone: the worker can record
    the new account (its `account.created` event) before the browser comes back."""
    if int(linked.get("created") or 0) > int(attempt.created_at.timestamp()):
        return True
    return db.get(FcAccount, (linked["id"], stripe_account)) is None


def _record_fc_session(
    db: Session,
    case: RelinkCase,
    attempt: RelinkAttempt,
    fc_session: dict[str, Any],
    account: FcAccount | None,
) -> Outcome:
    result = fc_session.get("relink_result") or {}
    bank = bank_of(account)
    if result.get("account") or result.get("authorization"):
        if attempt.mode == "authorization":
            linked = list((fc_session.get("accounts") or {}).get("data") or [])
            unknown = [a for a in linked if _linked_in(attempt, a, db, case.stripe_account)]
            if unknown:
                new_id = str(unknown[0]["id"])
                attempt.linked_account_id = new_id
                finish(attempt, "new_account")
                asked_about = attempt.account_id or case.account_id or ""
                replaced = mark_replaced(db, case, asked_about, new_id)
                publish_after_commit(db, RECONCILE_AUTHORIZATION, reconcile_args(case))
                log.info("relink_new_account", case_id=case.id, replaced=replaced)
                new = bank_of(account, parse_account(unknown[0]))
                return NewAccount(new, attempt.session_id, None)
            attempt.linked_account_id = linked[0]["id"] if linked else None
        finish(attempt, "account" if result.get("account") else "authorization")
        authorization = result.get("authorization") or case.authorization_id
        publish_after_commit(db, RECONCILE_AUTHORIZATION, reconcile_args(case, authorization))
        log.info("relink_succeeded", case_id=case.id, session_id=attempt.session_id)
        return Reconnected(bank)
    if fc_session.get("status") in OPEN_SESSION_STATUSES:
        # Not finished at Stripe (an early GET …/return, a prefetch): nothing is recorded, so
        # the customer's real return still reads the result.
        return Failed(bank, str(fc_session.get("status") or "pending"))
    reason = result.get("failure_reason") or str(fc_session.get("status") or "other")
    finish(attempt, reason)
    log.info("relink_failed", case_id=case.id, session_id=attempt.session_id, reason=reason)
    return recorded(attempt, account)


def _holder_name(client: stripe.StripeClient, account: FcAccount | None) -> str | None:
    """The customer's name on file at Stripe, to prefill the mandate form."""
    if account is None or account.holder_type != "customer" or not account.holder_id:
        return None
    return stripe_calls.best_effort(stripe_client.retrieve_customer_name, client, account.holder_id)


# POST /relink/{token}/fresh


def request_fresh_link(payload: LinkPayload) -> Outcome:
    """Email a fresh link to the address on file (never one from the request), through the
    same outbox path and FRESH_LINK_INTERVAL_SECONDS limit as `relink emails resend`, and at
    most FRESH_LINK_DAILY_CAP a day for the case."""
    now = utcnow()
    with session_scope() as db:
        case = load_case(db, payload, lock=True)
        if not can_go_on(case):
            return closed(case, db.get(FcAccount, (payload.account_id, payload.stripe_account)))
        assert case.id is not None
        outcome = enqueue.request_fresh_link(db, case.id, now=now)
        if outcome == "daily_cap":
            log.info("fresh_link_daily_cap", case_id=case.id)
        return FreshLink(sent=outcome == "queued", daily_cap=outcome == "daily_cap")
