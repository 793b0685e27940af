"""The connected account an API call acts within, taken the way Stripe takes it: an optional
`Stripe-Account: acct_…` request header. Absent: the platform's own objects (''). A case,
account or contact of another Stripe account is not found, as Stripe answers."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Header

from shared.connect import PLATFORM
from shared.errors import InvalidRequestError

HEADER = "Stripe-Account"
PATTERN = r"^acct_[A-Za-z0-9]{1,250}$"
_ACCOUNT = re.compile(PATTERN)


def _document_pattern(schema: dict[str, Any]) -> None:
    """The OpenAPI schema names the pattern on the header's string (FastAPI itself does not
    enforce it: a mismatch is this module's 400, not a validation 422)."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            branch["pattern"] = PATTERN


def stripe_account(
    value: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="a connected account's id (acct_…): act within that account's "
            "objects (Connect); absent: the platform's own",
            json_schema_extra=_document_pattern,
        ),
    ] = None,
) -> str:
    """The Stripe account named by the header ('' without one); 400 in the API's error shape
    when it is not `acct_` followed by letters and digits."""
    if value is None:
        return PLATFORM
    if not _ACCOUNT.fullmatch(value):
        raise InvalidRequestError(
            f"the {HEADER} header must be a connected account's id: acct_ then letters and digits",
            "invalid_stripe_account",
        )
    return value


StripeAccount = Annotated[str, Depends(stripe_account)]
