"""Schemathesis on /api/v1 with a live key (read and write, not read:pii) over stored cases,
accounts and a contact: whatever the schema allows is answered below 500, as the schema
documents it (status and body; the error shape when refused), and never shows a secret, the
key or a full email address."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis.checks import response_schema_conformance, status_code_conformance

from shared.cases.contacts import set_contact
from shared.db import session_scope
from shared.models import ContactSubject
from tests.fuzz.conftest import FUZZ, SECRETS, app_with_schema
from tests.platform_api.conftest import ADDRESS, add_case, add_sent_email, bearer, make_key

# The answer, refusals included, is what the schema documents (status and body).
CHECKS = [status_code_conformance, response_schema_conformance]
schema = schemathesis.openapi.from_asgi("/openapi.json", app_with_schema()).include(
    path_regex="^/api/v1/"
)


@pytest.fixture
def stored(db: None, published: list[Any]) -> str:
    """A key, two cases (one with a sent email), a holder-less account with a contact."""
    key = make_key("read", "write")
    add_sent_email(add_case("fcauth_fuzz1"))
    add_case("fcauth_fuzz2", holder=None)
    with session_scope() as session:
        for account in ("", "acct_fuzz"):  # the platform's and a connected account's
            set_contact(
                session,
                ContactSubject.FC_ACCOUNT,
                "fca_fuzz21",
                stripe_account=account,
                email=ADDRESS,
                name=None,
                locale=None,
            )
            set_contact(
                session,
                ContactSubject.CUSTOMER,
                "cus_ada",
                stripe_account=account,
                email=ADDRESS,
                name="Ada",
                locale="en",
            )
    return key


@schema.parametrize()
@FUZZ
def test_api_answers_what_the_schema_allows_below_500_without_secrets(
    case: Any, stored: str
) -> None:
    response = case.call(headers=bearer(stored))
    assert response.status_code < 500, response.text[:500]
    text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    for secret in (*SECRETS, stored, ADDRESS):
        assert secret not in text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"type", "code", "message", "param"}, body
    case.validate_response(response, checks=CHECKS)
