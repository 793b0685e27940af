"""Stored state of Financial Connections accounts and authorizations, newest snapshot wins."""

from __future__ import annotations

import stripe
import structlog
from sqlmodel import Session

from shared.connect import current_account
from shared.db import utcnow
from shared.events.stripe_event import EventRef
from shared.models import FcAccount, FcAuthorization
from shared.platform_webhooks import events
from shared.stripe_client import make_stripe_client, retrieve_account
from shared.stripe_objects import AccountSnapshot
from worker.cases.core.state import API_SNAPSHOT as API_SNAPSHOT
from worker.cases.core.state import is_newer
from worker.cases.repository import lock_account, open_case_of

log = structlog.get_logger(__name__)


def is_api_snapshot(account: FcAccount) -> bool:
    return account.state_event_id == API_SNAPSHOT


def apply_account_snapshot(
    session: Session,
    account: AccountSnapshot,
    *,
    created: int,
    event_id: str,
    replace_equal: bool = False,
) -> FcAccount | None:
    """Store the account as of Stripe time `created`; return it, or None if the stored state
    is newer (an older event arriving late changes nothing). With `replace_equal` a snapshot
    of the same time and id replaces the stored one (a later API read of the same second)."""
    stored = lock_account(session, account.id)
    if stored is not None and not is_newer(
        created, event_id, stored.state_at, stored.state_event_id
    ):
        same = (created, event_id) == (stored.state_at, stored.state_event_id)
        if not (replace_equal and same):
            return None
    before = _status_of(stored)
    now = utcnow()
    # Every default-factory field given: pydantic inspects each factory's signature per call.
    stored = stored or FcAccount(
        id=account.id,
        stripe_account=current_account(),
        status=account.status,
        permissions=[],
        updated_at=now,
    )
    stored.authorization_id = account.authorization or stored.authorization_id
    stored.holder_type = account.holder.type if account.holder else None
    stored.holder_id = account.holder.id if account.holder else None
    stored.institution_name = account.institution_name
    stored.display_name = account.display_name
    stored.last4 = account.last4
    stored.subcategory = account.subcategory
    stored.status = account.status
    stored.inactive_cause = account.inactive_cause
    stored.inactive_action = account.inactive_action
    stored.active_action = account.active.action
    stored.expected_deactivation_date = account.active.expected_deactivation_date
    stored.account_number_status = account.number.status
    stored.account_number_expiry = account.number.expected_expiry_date
    stored.permissions = list(account.permissions)
    stored.state_at, stored.state_event_id = created, event_id
    stored.updated_at = now
    session.add(stored)
    if stored.authorization_id:
        _ensure_authorization(session, stored)
    changed = _status_of(stored) != before and (before is not None or stored.status != "active")
    if changed and events.enabled():
        case = open_case_of(session, stored.authorization_id) if stored.authorization_id else None
        events.record_account_status(session, stored, before and before[0], case)
    return stored


def _status_of(account: FcAccount | None) -> tuple[str, str | None, str | None] | None:
    """relink's view of an account: its status, and why and what to do when inactive (a
    change of it is a `relink.account.status_changed`; a first sighting of a working account
    is not)."""
    if account is None:
        return None
    if account.status != "inactive":
        return account.status, None, None
    return account.status, account.inactive_cause, account.inactive_action


def apply_event_snapshot(
    session: Session,
    account: AccountSnapshot,
    event: EventRef,
    *,
    client: stripe.StripeClient | None = None,
) -> FcAccount | None:
    """Store an event's account snapshot if it is newer; return the stored account if it was
    written, else None. An event of the same second as the stored API read whose status
    differs cannot be ordered by time: Stripe is asked, and its answer stored."""
    created, event_id = event.created, event.id
    stored = apply_account_snapshot(session, account, created=created, event_id=event_id)
    if stored is not None:
        return stored
    current = session.get(FcAccount, (account.id, current_account()))
    if (
        current is None
        or current.state_at != created
        or not is_api_snapshot(current)
        or _same_standing(current, account)
    ):
        return None
    live = AccountSnapshot.parse(retrieve_account(client or make_stripe_client(), account.id))
    log.info("snapshot_tie_refetched", event_id=event_id, account_id=account.id)
    return apply_account_snapshot(
        session, live, created=created, event_id=API_SNAPSHOT, replace_equal=True
    )


def _same_standing(stored: FcAccount, account: AccountSnapshot) -> bool:
    return (stored.status, stored.inactive_action, stored.active_action) == (
        account.status,
        account.inactive_action,
        account.active.action,
    )


def _ensure_authorization(session: Session, account: FcAccount) -> None:
    assert account.authorization_id is not None
    if session.get(FcAuthorization, (account.authorization_id, account.stripe_account)) is None:
        session.add(
            FcAuthorization(
                id=account.authorization_id,
                institution_name=account.institution_name,
                holder_type=account.holder_type,
                holder_id=account.holder_id,
            )
        )
