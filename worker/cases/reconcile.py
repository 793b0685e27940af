"""Reconcile an authorization with Stripe: every account on it, its case, its emails.

Stripe reactivates a whole authorization at once and sends one `reactivated` per account, in
any order, possibly twice, possibly never. Whatever triggers it (one of those events, a
successful relink, a sweep), a reconciliation takes the authorization's row lock, so sibling
events take turns; the first reads the authorization and its accounts from the API and the
others, finding a reconciliation newer than their event within RECONCILE_WINDOW_SECONDS,
only review the case against what it stored. Helpers here never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import stripe
import structlog
from sqlmodel import Session

from shared.connect import acting_on
from shared.db import session_scope, utcnow
from shared.events.stripe_event import EventRef
from shared.models import FcAuthorization
from shared.settings import get_settings
from shared.stripe_client import (
    list_holder_accounts,
    make_stripe_client,
    retrieve_account,
    retrieve_authorization,
)
from shared.stripe_objects import HOLDER_TYPES, AccountSnapshot, AuthorizationSnapshot
from worker.cases.accounts import API_SNAPSHOT, apply_account_snapshot
from worker.cases.core.state import OUTBOX as OUTBOX
from worker.cases.core.state import RELINK as RELINK
from worker.cases.core.state import SWEEP as SWEEP
from worker.cases.core.state import Trigger as Trigger
from worker.cases.repository import accounts_of, event_created, lock_authorization
from worker.cases.review import review_case, standing_of

log = structlog.get_logger(__name__)


def trigger_of(event: EventRef) -> Trigger:
    """An event as a reconciliation's trigger: its id and Stripe time."""
    return Trigger(event.id, event.created)


def recently_reconciled(authorization: FcAuthorization, trigger: Trigger, now: datetime) -> bool:
    """A reconciliation within the window that already saw the trigger's moment."""
    if authorization.reconciled_at is None:
        return False
    window = timedelta(seconds=get_settings().reconcile_window_seconds)
    if now - authorization.reconciled_at >= window:
        return False
    return trigger.created is None or trigger.created <= authorization.reconciled_through


def reconcile_locked(
    session: Session,
    authorization: FcAuthorization,
    trigger: Trigger,
    *,
    client: stripe.StripeClient | None = None,
    now: datetime | None = None,
) -> str:
    """Reconcile an authorization whose row the caller has locked; return `reconciled` (read
    from the API) or `coalesced` (a recent reconciliation already covered this trigger)."""
    now = now or utcnow()
    stale = trigger.expects_repair and bool(
        standing_of(session, authorization, now).accounts_to_relink
    )
    if recently_reconciled(authorization, trigger, now) and not stale:
        outcome = "coalesced"
    else:
        fetch_authorization(session, authorization, trigger, client or make_stripe_client(), now)
        outcome = "reconciled"
    review_case(
        session,
        authorization,
        live=True,
        resolution=trigger.resolution,
        resolved_by=trigger.name,
        now=now,
    )
    log.info(
        "authorization_reconciled",
        authorization_id=authorization.id,
        trigger=trigger.name,
        outcome=outcome,
    )
    return outcome


def fetch_authorization(
    session: Session,
    authorization: FcAuthorization,
    trigger: Trigger,
    client: stripe.StripeClient,
    now: datetime,
) -> None:
    """Read the authorization and all its accounts from the API and store them as snapshots
    at Stripe time `now` (or the trigger's time, if later)."""
    at = max(int(now.timestamp()), trigger.created or 0)
    live = _retrieve_authorization(client, authorization.id)
    if live is not None:
        _apply_authorization(authorization, live, at)
    found: dict[str, AccountSnapshot] = {}
    if authorization.holder_type in HOLDER_TYPES and authorization.holder_id:
        for payload in list_holder_accounts(
            client, authorization.holder_type, authorization.holder_id
        ):
            account = AccountSnapshot.parse(payload)
            if account.authorization == authorization.id:
                found[account.id] = account
    for stored in accounts_of(session, authorization.id):
        if stored.id not in found:
            fetched = _retrieve_account(client, stored.id)
            if fetched is not None:
                found[stored.id] = fetched
    for account_id in sorted(found):
        apply_account_snapshot(
            session, found[account_id], created=at, event_id=API_SNAPSHOT, replace_equal=True
        )
    authorization.reconciled_at = now
    authorization.reconciled_through = max(authorization.reconciled_through, at)
    authorization.updated_at = now
    session.add(authorization)


def _retrieve_authorization(
    client: stripe.StripeClient, authorization_id: str
) -> AuthorizationSnapshot | None:
    try:
        return AuthorizationSnapshot.parse(retrieve_authorization(client, authorization_id))
    except stripe.InvalidRequestError as exc:
        if exc.http_status != 404:
            raise
        log.warning("authorization_not_found", authorization_id=authorization_id)
        return None


def _retrieve_account(client: stripe.StripeClient, account_id: str) -> AccountSnapshot | None:
    try:
        return AccountSnapshot.parse(retrieve_account(client, account_id))
    except stripe.InvalidRequestError as exc:
        if exc.http_status != 404:
            raise
        log.warning("account_not_found", account_id=account_id)
        return None


def _apply_authorization(
    authorization: FcAuthorization, live: AuthorizationSnapshot, at: int
) -> None:
    if at < authorization.state_at:
        return
    if live.holder is not None:
        authorization.holder_type, authorization.holder_id = live.holder.type, live.holder.id
    apply_authorization_state(authorization, live, at)


def apply_authorization_state(
    authorization: FcAuthorization, live: AuthorizationSnapshot, at: int
) -> None:
    """Status and `status_details.active` of an authorization object as of Stripe time `at`."""
    authorization.status = live.status or authorization.status
    authorization.institution_name = live.institution_name or authorization.institution_name
    authorization.active_action = live.active.action
    authorization.expected_deactivation_date = live.active.expected_deactivation_date
    authorization.state_at = at


def run_reconciliation(
    authorization_id: str, trigger: str = RELINK, stripe_account: str = ""
) -> str:
    """Reconcile one authorization (of `stripe_account`, '' the platform's) in its own unit of
    work (the task's plain function)."""
    with session_scope() as session, acting_on(stripe_account):
        authorization = lock_authorization(session, authorization_id)
        created = event_created(session, trigger)
        return reconcile_locked(session, authorization, Trigger(trigger, created))
