"""Reconcile an authorization with Stripe: every account on it, its case, its emails.

Stripe reactivates a whole authorization at once and sends one `reactivated` per account, in
any order, possibly twice, possibly never. Whatever triggers it (one of those events, a
successful relink, a sweep), a reconciliation takes the authorization's row lock, so sibling
events take turns; the first reads the authorization and its accounts from the API and the
others, finding a reconciliation newer than their event within RECONCILE_WINDOW_SECONDS,
only review the case against what it stored. Helpers here never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import stripe
import structlog
from sqlmodel import Session, col, select

from shared.db import session_scope, utcnow
from shared.models import FcAccount, FcAuthorization, WebhookEvent
from shared.settings import get_settings
from shared.stripe_client import (
    list_holder_accounts,
    make_stripe_client,
    retrieve_account,
    retrieve_authorization,
)
from worker.cases.accounts import API_SNAPSHOT, apply_account_snapshot, is_api_snapshot
from worker.cases.review import needs_relink, review_case, standing_of
from worker.cases.service import lock_authorization

log = structlog.get_logger(__name__)

RELINK = "relink"
SWEEP = "sweep"
OUTBOX = "outbox"


@dataclass(frozen=True)
class Trigger:
    """What asked for the reconciliation: an event (its id and Stripe time), a successful
    relink, or a sweep."""

    name: str
    created: int | None = None

    @classmethod
    def of_event(cls, event: dict[str, Any]) -> Trigger:
        return cls(str(event["id"]), int(event["created"]))

    @property
    def resolution(self) -> str:
        return SWEEP if self.name == SWEEP else "reactivated"

    @property
    def expects_repair(self) -> bool:
        """A successful relink, or an email that found its account working again: if what is
        stored still says a relink is needed, it predates the repair."""
        return self.name in (RELINK, OUTBOX)


def accounts_of(session: Session, authorization_id: str) -> list[FcAccount]:
    return list(
        session.exec(
            select(FcAccount)
            .where(FcAccount.authorization_id == authorization_id)
            .order_by(col(FcAccount.id))
        ).all()
    )


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
    stale = trigger.expects_repair and needs_relink(standing_of(session, authorization, now))
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
    found: dict[str, dict[str, Any]] = {}
    if authorization.holder_type in ("customer", "account") and authorization.holder_id:
        for account in list_holder_accounts(
            client, authorization.holder_type, authorization.holder_id
        ):
            if account.get("authorization") == authorization.id:
                found[account["id"]] = account
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
) -> dict[str, Any] | None:
    try:
        return retrieve_authorization(client, authorization_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status != 404:
            raise
        log.warning("authorization_not_found", authorization_id=authorization_id)
        return None


def _retrieve_account(client: stripe.StripeClient, account_id: str) -> dict[str, Any] | None:
    try:
        return retrieve_account(client, account_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status != 404:
            raise
        log.warning("account_not_found", account_id=account_id)
        return None


def _apply_authorization(authorization: FcAuthorization, live: dict[str, Any], at: int) -> None:
    if at < authorization.state_at:
        return
    holder = live.get("account_holder") or {}
    holder_type = holder.get("type")
    if holder_type in ("customer", "account") and holder.get(holder_type):
        authorization.holder_type, authorization.holder_id = holder_type, str(holder[holder_type])
    apply_authorization_state(authorization, live, at)


def apply_authorization_state(
    authorization: FcAuthorization, live: dict[str, Any], at: int
) -> None:
    """Status and `status_details.active` of an authorization object as of Stripe time `at`."""
    active = (live.get("status_details") or {}).get("active") or {}
    authorization.status = live.get("status") or authorization.status
    authorization.institution_name = live.get("institution_name") or authorization.institution_name
    authorization.active_action = active.get("action")
    authorization.expected_deactivation_date = active.get("expected_deactivation_date")
    authorization.state_at = at


def apply_event_snapshot(
    session: Session,
    account: dict[str, Any],
    event: dict[str, Any],
    *,
    client: stripe.StripeClient | None = None,
) -> FcAccount | None:
    """Store an event's account snapshot if it is newer; return the stored account if it was
    written, else None. An event of the same second as the stored API read whose status
    differs cannot be ordered by time: Stripe is asked, and its answer stored."""
    created, event_id = int(event["created"]), str(event["id"])
    stored = apply_account_snapshot(session, account, created=created, event_id=event_id)
    if stored is not None:
        return stored
    current = session.get(FcAccount, account["id"])
    if (
        current is None
        or current.state_at != created
        or not is_api_snapshot(current)
        or _same_standing(current, account)
    ):
        return None
    live = retrieve_account(client or make_stripe_client(), account["id"])
    log.info("snapshot_tie_refetched", event_id=event_id, account_id=account["id"])
    return apply_account_snapshot(
        session, live, created=created, event_id=API_SNAPSHOT, replace_equal=True
    )


def _same_standing(stored: FcAccount, account: dict[str, Any]) -> bool:
    details = account.get("status_details") or {}
    return (stored.status, stored.inactive_action, stored.active_action) == (
        account.get("status"),
        (details.get("inactive") or {}).get("action"),
        (details.get("active") or {}).get("action"),
    )


def reconcile_authorization(authorization_id: str, trigger: str = RELINK) -> str:
    """Reconcile one authorization in its own unit of work (the task's plain function)."""
    with session_scope() as session:
        authorization = lock_authorization(session, authorization_id)
        created = session.exec(
            select(WebhookEvent.created).where(WebhookEvent.id == trigger)
        ).first()
        return reconcile_locked(session, authorization, Trigger(trigger, created))
