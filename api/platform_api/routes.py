"""The platform JSON API under /api/v1: thin edges over api.platform_api.service, one unit
of work per request. Every route needs an API key (auth.py) with the scope it names, and
acts within the Stripe account its optional `Stripe-Account` header names (connect.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlmodel import Session

from api.bodies import read_body
from api.errors import NO_STORE, documented
from api.platform_api import schemas, service
from api.platform_api.auth import Caller, require
from api.platform_api.connect import StripeAccount
from shared.cases import contacts
from shared.db import session_scope
from shared.emails import enqueue
from shared.errors import (
    ConflictError,
    InvalidParameterError,
    NotFoundError,
    RateLimitError,
)
from shared.models import OPEN_CASE_STATES, CaseState, ContactSubject, FcAccount, RelinkCase
from shared.settings import get_settings

ERRORS = documented(
    {
        400: "a Stripe-Account header that is not a connected account's id",
        401: "no API key, or not a live one",
        403: "the key lacks the scope",
        404: "no such object",
        422: "an invalid parameter or body",
    }
)


def no_store(response: Response) -> None:
    response.headers.update(NO_STORE)


router = APIRouter(
    prefix="/api/v1", tags=["platform"], responses=ERRORS, dependencies=[Depends(no_store)]
)
log = structlog.get_logger(__name__)

Reader = Annotated[Caller, Depends(require("read"))]
Writer = Annotated[Caller, Depends(require("write"))]
# Changing where a customer's links go is its own scope: a `write` key alone cannot redirect
# a relink link to another address (then `resend` it).
ContactWriter = Annotated[Caller, Depends(require("write:contacts"))]
CaseId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# PostgreSQL text cannot hold NUL (psycopg raises on it): a filter with a control character
# matches nothing Stripe names, so it is a 422, not a 500.
NO_CONTROLS = r"^[^\x00-\x1f\x7f]*$"
StripeId = Annotated[str, Path(max_length=255, pattern=r"^[a-z]+_[A-Za-z0-9]+$")]
ID_PREFIXES = {
    ContactSubject.CUSTOMER: "cus_",
    ContactSubject.ACCOUNT: "acct_",
    ContactSubject.FC_ACCOUNT: "fca_",
}


def _case(session: Session, case_id: int, stripe_account: str) -> RelinkCase:
    """The case, if it lives on `stripe_account`: another account's is not found."""
    case = session.get(RelinkCase, case_id)
    if case is None or case.stripe_account != stripe_account:
        raise NotFoundError(f"no case {case_id}")
    return case


def _open_case(session: Session, case_id: int, stripe_account: str) -> RelinkCase:
    """The case, if it is open on `stripe_account`: a closed one gets the same 404 as a
    missing one (a write-only key cannot tell them apart by probing ids)."""
    case = session.get(RelinkCase, case_id)
    if case is None or case.stripe_account != stripe_account or case.state not in OPEN_CASE_STATES:
        raise NotFoundError(f"no case {case_id}")
    return case


def _utc(moment: datetime) -> datetime:
    """`moment` in UTC (naive is UTC); a 422 where UTC falls outside the datetime range."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidParameterError(
            "updated_since: outside the range of dates in UTC", param="updated_since"
        ) from None


@router.get("/cases", response_model=schemas.CaseList)
def list_cases(
    _caller: Reader,
    account: StripeAccount,
    state: CaseState | None = None,
    customer: Annotated[
        str | None, Query(max_length=255, pattern=NO_CONTROLS, description="cus_…")
    ] = None,
    connected_account: Annotated[
        str | None,
        Query(max_length=255, pattern=NO_CONTROLS, description="acct_…: an account holder"),
    ] = None,
    authorization: Annotated[
        str | None, Query(max_length=255, pattern=NO_CONTROLS, description="fcauth_…")
    ] = None,
    institution: Annotated[
        str | None, Query(max_length=255, pattern=NO_CONTROLS, description="the bank's name")
    ] = None,
    updated_since: Annotated[
        datetime | None, Query(description="cases changed at or after this time (ISO 8601)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    starting_after: Annotated[
        int | None, Query(ge=0, le=2**31 - 1, description="the last case id of the page before")
    ] = None,
) -> schemas.CaseList:
    """Cases of the Stripe account (the platform's without `Stripe-Account`), newest first, a
    page at a time (Stripe's `starting_after` cursor); holders are that account's."""
    if updated_since is not None:
        updated_since = _utc(updated_since)
    filters = service.CaseFilters(
        stripe_account=account,
        state=state.value if state else None,
        customer=customer,
        connected_account=connected_account,
        authorization=authorization,
        institution=institution,
        updated_since=updated_since,
    )
    with session_scope() as session:
        data, has_more = service.list_cases(
            session, filters, limit=limit, starting_after=starting_after
        )
    return schemas.CaseList(url="/api/v1/cases", data=data, has_more=has_more)


@router.get("/cases/{case_id}", response_model=schemas.CaseDetail)
def get_case(case_id: CaseId, caller: Reader, account: StripeAccount) -> schemas.CaseDetail:
    """One case with its accounts and a timeline of its events, emails and relink sessions."""
    with session_scope() as session:
        detail = service.get_case(session, case_id, account, sees_pii=caller.sees_pii)
    if detail is None:
        raise NotFoundError(f"no case {case_id}")
    return detail


@router.get("/accounts/{account_id}", response_model=schemas.Account)
def get_account(
    account_id: StripeId, _caller: Reader, stripe_account: StripeAccount
) -> schemas.Account:
    """A Financial Connections account's standing, as relink last saw it."""
    with session_scope() as session:
        account = service.get_account(session, account_id, stripe_account)
    if account is None:
        raise NotFoundError(f"no account {account_id}")
    return account


@router.post(
    "/cases/{case_id}/links",
    response_model=schemas.Link,
    status_code=201,
    responses=documented({409: "the case has no account"}),
)
def mint_link(case_id: CaseId, _caller: Writer, account: StripeAccount) -> schemas.Link:
    """A fresh signed relink link for an open case, for the platform's own prompt (a closed
    case is not found)."""
    with session_scope() as session:
        link = service.mint_link(session, _open_case(session, case_id, account))
    if isinstance(link, str):
        raise ConflictError(f"case {case_id} has no account to relink", "no_account")
    return link


@router.post("/cases/{case_id}/links/revoke", status_code=204)
def revoke_links(case_id: CaseId, caller: Writer, account: StripeAccount) -> Response:
    """Every link of the open case signed so far (emailed, minted, in platform webhooks) now
    shows "expired"; links made after this work."""
    with session_scope() as session:
        service.revoke_links(session, _open_case(session, case_id, account))
    log.warning("links_revoked", key_prefix=caller.prefix, case_id=case_id)
    return Response(status_code=204, headers=NO_STORE)


@router.post(
    "/cases/{case_id}/resend",
    response_model=schemas.Resend,
    status_code=202,
    responses=documented({429: "a fresh link went out too recently, or the day's cap is reached"}),
)
def resend(case_id: CaseId, _caller: Writer, account: StripeAccount) -> schemas.Resend:
    """Email the case's holder a fresh link (the relink page's own path and limits); a closed
    case is not found."""
    with session_scope() as session:
        _open_case(session, case_id, account)
        outcome = enqueue.request_fresh_link(session, case_id)
    if outcome in ("missing", "not_open"):
        raise NotFoundError(f"no case {case_id}")
    if outcome == "rate_limited":
        interval = get_settings().fresh_link_interval_seconds
        raise RateLimitError(
            f"case {case_id} got a fresh link less than {interval}s ago", retry_after=interval
        )
    if outcome == "daily_cap":
        cap = get_settings().fresh_link_daily_cap
        raise RateLimitError(
            f"case {case_id} got {cap} fresh links in the last 24 hours (FRESH_LINK_DAILY_CAP)",
            "daily_cap",
            retry_after=24 * 3600,
        )
    return schemas.Resend(case_id=case_id, outcome="queued")


# A contact is a few hundred bytes of JSON.
MAX_CONTACT_BYTES = 4 * 1024


async def contact_body(caller: ContactWriter, request: Request) -> tuple[Caller, schemas.ContactIn]:
    """The caller and its contact: the key is checked first, then the body is read, up to
    MAX_CONTACT_BYTES (a request without a key, or a larger body, is refused unread)."""
    body = await read_body(request, MAX_CONTACT_BYTES)
    try:
        return caller, schemas.ContactIn.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


def _subject(subject_type: ContactSubject, subject_id: str) -> None:
    prefix = ID_PREFIXES[subject_type]
    if not subject_id.startswith(prefix):
        raise InvalidParameterError(f"a {subject_type} id starts with {prefix}", param="subject_id")


@router.put(
    "/contacts/{subject_type}/{subject_id}",
    response_model=schemas.ContactOut,
    responses=documented({409: "the account has a holder", 413: "a body over 4 KiB"}),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schemas.ContactIn.model_json_schema()}},
        }
    },
)
def set_contact(
    subject_type: ContactSubject,
    subject_id: StripeId,
    checked: Annotated[tuple[Caller, schemas.ContactIn], Depends(contact_body)],
    account: StripeAccount,
) -> schemas.ContactOut:
    """Who relink writes to for an account holder (customer, account) or for a Financial
    Connections account without one (fc_account): preferred to the address at Stripe. A new
    address revokes the links of the subject's open cases and is logged (`contact_changed`)."""
    caller, contact = checked
    _subject(subject_type, subject_id)
    with session_scope() as session:
        if subject_type == ContactSubject.FC_ACCOUNT:
            fc_account = session.get(FcAccount, (subject_id, account))
            if fc_account is None:
                raise NotFoundError(f"no account {subject_id}")
            if fc_account.holder_type:
                raise ConflictError(
                    f"set the contact of its {fc_account.holder_type} instead", "has_holder"
                )
        before = contacts.get_contact(session, subject_type, subject_id, stripe_account=account)
        before_email = before.email if before else None
        row = contacts.set_contact(
            session,
            subject_type,
            subject_id,
            stripe_account=account,
            email=contact.email,
            name=contact.name,
            locale=contact.locale,
        )
        if before_email != row.email:
            service.contact_changed(
                session,
                key_prefix=caller.prefix,
                subject_type=subject_type,
                subject_id=subject_id,
                stripe_account=account,
                before=before_email,
                after=row.email,
            )
        return service.contact_out(row, sees_pii=caller.sees_pii)


@router.get("/contacts/{subject_type}/{subject_id}", response_model=schemas.ContactOut)
def get_contact(
    subject_type: ContactSubject, subject_id: StripeId, caller: Reader, account: StripeAccount
) -> schemas.ContactOut:
    """The contact set for a subject; its address masked unless the key has read:pii."""
    with session_scope() as session:
        row = contacts.get_contact(session, subject_type, subject_id, stripe_account=account)
        if row is None:
            raise NotFoundError(f"no contact for {subject_type} {subject_id}")
        return service.contact_out(row, sees_pii=caller.sees_pii)


@router.delete("/contacts/{subject_type}/{subject_id}", status_code=204)
def delete_contact(
    subject_type: ContactSubject,
    subject_id: StripeId,
    caller: ContactWriter,
    account: StripeAccount,
) -> Response:
    """Forget the contact: relink goes back to the address at Stripe (the subject's open
    cases' links are revoked, as for a new address)."""
    with session_scope() as session:
        row = contacts.get_contact(session, subject_type, subject_id, stripe_account=account)
        if row is None:
            raise NotFoundError(f"no contact for {subject_type} {subject_id}")
        before = row.email
        contacts.delete_contact(session, subject_type, subject_id, stripe_account=account)
        service.contact_changed(
            session,
            key_prefix=caller.prefix,
            subject_type=subject_type,
            subject_id=subject_id,
            stripe_account=account,
            before=before,
            after=None,
        )
    return Response(status_code=204, headers=NO_STORE)
