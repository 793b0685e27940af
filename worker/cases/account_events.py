"""What every `financial_connections.account.*` handler does first: make sure the account
carries the preview fields, lock its authorization, then store the snapshot if it is newer."""

from __future__ import annotations

from dataclasses import dataclass

import stripe
import structlog
from sqlmodel import Session

from shared.events.stripe_event import EventRef
from shared.models import FcAccount, FcAuthorization
from shared.settings import get_settings
from shared.stripe_client import StripeNotConfigured, make_stripe_client, retrieve_account
from shared.stripe_objects import AccountSnapshot
from worker.cases.accounts import apply_event_snapshot
from worker.cases.repository import lock_authorization
from worker.errors import PermanentEventError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class AppliedEvent:
    authorization: FcAuthorization | None  # locked; None when the account has none
    stored: FcAccount | None  # as written; None when what is stored is newer


def apply_account_event(
    session: Session, event: EventRef, account: AccountSnapshot
) -> AppliedEvent:
    """The authorization's row is locked before the account is written, so one
    authorization's events take turns; the lock is held until the event's commit."""
    account = with_preview_fields(event.id, account)
    authorization = (
        lock_authorization(session, account.authorization) if account.authorization else None
    )
    return AppliedEvent(authorization, apply_event_snapshot(session, account, event))


def with_preview_fields(event_id: str, account: AccountSnapshot) -> AccountSnapshot:
    """The account as given if it carries the preview fields, else re-fetched with
    STRIPE_API_VERSION; a permanent error if even that lacks them."""
    if not account.lacks_preview_fields:
        return account
    version = get_settings().stripe_api_version
    try:
        fetched = AccountSnapshot.parse(retrieve_account(make_stripe_client(), account.id))
    except StripeNotConfigured as exc:
        raise PermanentEventError(
            event_id, "the payload lacks preview fields and STRIPE_API_KEY is not set"
        ) from exc
    except stripe.InvalidRequestError as exc:
        raise PermanentEventError(event_id, f"cannot re-fetch the account: {exc}") from exc
    log.info("account_refetched", event_id=event_id, account_id=account.id, version=version)
    if fetched.lacks_preview_fields:
        raise PermanentEventError(
            event_id,
            "the account lacks `authorization`/`status_details.inactive` even when re-fetched "
            f"with Stripe-Version {version}: the webhook endpoint's API version and "
            "STRIPE_API_VERSION must be a preview version (e.g. 2026-09-30.preview)",
        )
    return fetched


def fill_authorization(authorization: FcAuthorization, account: FcAccount) -> None:
    """What a bare authorization row (locked before its first account was stored) learns
    from that account: its institution and holder."""
    authorization.institution_name = authorization.institution_name or account.institution_name
    if authorization.holder_type is None:
        authorization.holder_type, authorization.holder_id = account.holder_type, account.holder_id
