"""Stored state of Financial Connections accounts and authorizations, newest snapshot wins."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from shared.db import utcnow
from shared.models import FcAccount, FcAuthorization


def _holder(account: dict[str, Any]) -> tuple[str | None, str | None]:
    holder = account.get("account_holder") or {}
    holder_type = holder.get("type")
    holder_id = holder.get(holder_type) if holder_type in ("customer", "account") else None
    if isinstance(holder_id, dict):  # expanded
        holder_id = holder_id.get("id")
    return holder_type, holder_id


# The "event id" of a snapshot read from the API rather than from an event. It sorts after
# every `evt_` id, so an API read wins the tie with the events of its own second; an event of
# that second whose status differs is then settled by asking Stripe (worker/cases/reconcile.py).
API_SNAPSHOT = "~api"


def is_newer(created: int, event_id: str, state_at: int, state_event_id: str | None) -> bool:
    """Stripe's clock orders snapshots; the event id breaks ties so replays agree."""
    return (created, event_id) > (state_at, state_event_id or "")


def is_api_snapshot(account: FcAccount) -> bool:
    return account.state_event_id == API_SNAPSHOT


def apply_account_snapshot(
    session: Session,
    account: dict[str, Any],
    *,
    created: int,
    event_id: str,
    replace_equal: bool = False,
) -> FcAccount | None:
    """Store the account as of Stripe time `created`; return it, or None if the stored state
    is newer (an older event arriving late changes nothing). With `replace_equal` a snapshot
    of the same time and id replaces the stored one (a later API read of the same second)."""
    stored = session.exec(
        select(FcAccount).where(FcAccount.id == account["id"]).with_for_update()
    ).first()
    if stored is not None and not is_newer(
        created, event_id, stored.state_at, stored.state_event_id
    ):
        same = (created, event_id) == (stored.state_at, stored.state_event_id)
        if not (replace_equal and same):
            return None
    status_details = account.get("status_details") or {}
    inactive = status_details.get("inactive") or {}
    active = status_details.get("active") or {}
    holder_type, holder_id = _holder(account)
    stored = stored or FcAccount(id=account["id"], status=account["status"])
    stored.authorization_id = account.get("authorization") or stored.authorization_id
    stored.holder_type, stored.holder_id = holder_type, holder_id
    stored.institution_name = account.get("institution_name")
    stored.display_name = account.get("display_name")
    stored.last4 = account.get("last4")
    stored.subcategory = account.get("subcategory")
    stored.status = account["status"]
    stored.inactive_cause = inactive.get("cause")
    stored.inactive_action = inactive.get("action")
    stored.active_action = active.get("action")
    stored.expected_deactivation_date = active.get("expected_deactivation_date")
    stored.permissions = list(account.get("permissions") or [])
    stored.state_at, stored.state_event_id = created, event_id
    stored.updated_at = utcnow()
    session.add(stored)
    if stored.authorization_id:
        _ensure_authorization(session, stored)
    return stored


def _ensure_authorization(session: Session, account: FcAccount) -> None:
    assert account.authorization_id is not None
    if session.get(FcAuthorization, account.authorization_id) is None:
        session.add(
            FcAuthorization(
                id=account.authorization_id,
                institution_name=account.institution_name,
                holder_type=account.holder_type,
                holder_id=account.holder_id,
            )
        )
