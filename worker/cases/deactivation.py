"""`financial_connections.account.deactivated`: store the snapshot if newer, classify, and
open or join the authorization's relink case."""

from __future__ import annotations

from typing import Any

import stripe
import structlog
from sqlmodel import Session

from shared.models import FcAuthorization, RelinkCase
from shared.settings import get_settings
from shared.stripe_client import StripeNotConfigured, make_stripe_client, retrieve_account
from worker.cases.classification import classify_deactivation
from worker.cases.reconcile import apply_event_snapshot
from worker.cases.service import lock_authorization, record_deactivation
from worker.errors import PermanentEventError

log = structlog.get_logger(__name__)


def lacks_preview_fields(account: dict[str, Any]) -> bool:
    """True for an account rendered on a GA API version: no `authorization` key, and an
    inactive account without `status_details.inactive`."""
    inactive_missing = account.get("status") == "inactive" and not (
        account.get("status_details") or {}
    ).get("inactive")
    return "authorization" not in account or inactive_missing


def with_preview_fields(event_id: str, account: dict[str, Any]) -> dict[str, Any]:
    """The account as given if it carries the preview fields, else re-fetched with
    STRIPE_API_VERSION; a permanent error if even that lacks them."""
    if not lacks_preview_fields(account):
        return account
    version = get_settings().stripe_api_version
    try:
        fetched = retrieve_account(make_stripe_client(), account["id"])
    except StripeNotConfigured as exc:
        raise PermanentEventError(
            event_id, "the payload lacks preview fields and STRIPE_API_KEY is not set"
        ) from exc
    except stripe.InvalidRequestError as exc:
        raise PermanentEventError(event_id, f"cannot re-fetch the account: {exc}") from exc
    log.info("account_refetched", event_id=event_id, account_id=account["id"], version=version)
    if lacks_preview_fields(fetched):
        raise PermanentEventError(
            event_id,
            "the account lacks `authorization`/`status_details.inactive` even when re-fetched "
            f"with Stripe-Version {version}: the webhook endpoint's API version and "
            "STRIPE_API_VERSION must be a preview version (e.g. 2026-09-30.preview)",
        )
    return fetched


def handle_deactivation(
    session: Session, event: dict[str, Any], account: dict[str, Any]
) -> RelinkCase | None:
    """Apply the deactivation; return the case it opened or joined (None if it changed
    nothing: an older snapshot, an account active again, or one without an authorization)."""
    account = with_preview_fields(event["id"], account)
    authorization_id = account.get("authorization")
    authorization = lock_authorization(session, authorization_id) if authorization_id else None
    stored = apply_event_snapshot(session, account, event)
    if stored is None:
        log.info("snapshot_older", event_id=event["id"], account_id=account["id"])
        return None
    if stored.status != "inactive" or authorization is None:
        log.info("nothing_to_repair", event_id=event["id"], status=stored.status)
        return None
    _fill_authorization(
        authorization, stored.institution_name, stored.holder_type, stored.holder_id
    )
    deactivation = classify_deactivation(stored.inactive_cause, stored.inactive_action)
    case, _ = record_deactivation(
        session,
        authorization_id=authorization.id,
        account_id=stored.id,
        deactivation=deactivation,
    )
    return case


def _fill_authorization(
    authorization: FcAuthorization,
    institution_name: str | None,
    holder_type: str | None,
    holder_id: str | None,
) -> None:
    authorization.institution_name = authorization.institution_name or institution_name
    if authorization.holder_type is None:
        authorization.holder_type, authorization.holder_id = holder_type, holder_id
