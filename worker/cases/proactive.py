"""Relink ahead of breakage: `upcoming_deactivation` and `expected_deactivation_date_updated`
(of an account or of a whole authorization) open a `proactive` case when the action is
`relink_required`, `upcoming_account_number_expiry` and `account_numbers_updated` when the
tokenized number expires soon or stopped working; each closes it when the warning goes away
(a transactable number again: worker/cases/review.py)."""

from __future__ import annotations

from sqlmodel import Session

from shared.events.stripe_event import EventRef
from shared.models import RelinkCase
from shared.stripe_objects import AccountSnapshot, AuthorizationSnapshot
from worker.cases.account_events import apply_account_event, fill_authorization
from worker.cases.core.standing import WARNING_CLEARED
from worker.cases.reconcile import apply_authorization_state, reconcile_locked, trigger_of
from worker.cases.repository import lock_authorization
from worker.cases.review import review_case


def handle_account_warning(
    session: Session, event: EventRef, account: AccountSnapshot
) -> RelinkCase | None:
    """Store the warning; return the authorization's open case after the review (None when
    the warning is older than what is stored, or the account has no authorization)."""
    applied = apply_account_event(session, event, account)
    if applied.authorization is None or applied.stored is None:
        return None  # no authorization, or an older warning: what is stored already says more
    fill_authorization(applied.authorization, applied.stored)
    return review_case(
        session,
        applied.authorization,
        live=False,
        resolution=WARNING_CLEARED,
        resolved_by=event.id,
    )


def handle_authorization_warning(
    session: Session, event: EventRef, payload: AuthorizationSnapshot
) -> None:
    """An authorization-level warning names no account: store it, then read the accounts
    from the API (the reconciliation also opens or closes the proactive case)."""
    authorization = lock_authorization(session, payload.id)
    if event.created < authorization.state_at:
        return  # an older warning
    apply_authorization_state(authorization, payload, event.created)
    session.add(authorization)
    reconcile_locked(session, authorization, trigger_of(event))
