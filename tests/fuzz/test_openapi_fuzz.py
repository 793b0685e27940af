"""Schemathesis against the app's own OpenAPI schema (the webhook and health routes): any
request the schema allows gets an answer below 500 that the schema documents (status and
body: the error shape), writes nothing unless it is a verified event (no generated request
carries a valid signature), and never shows a secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import response_schema_conformance, status_code_conformance
from sqlalchemy import func
from sqlmodel import select

from shared.db import session_scope
from shared.models import WebhookEvent
from tests.fuzz.conftest import FUZZ, SECRETS, app_with_schema

FUZZED_PATHS = ["/webhooks/stripe", "/healthz", "/readyz"]


# Built at import (schemathesis 4.32's lazy `from_fixture` fails under pytest 9: the Function
# item has no `_nodeid`); the app reads its settings per request, so each test's env applies.
schema = schemathesis.openapi.from_asgi("/openapi.json", app_with_schema()).include(
    path=FUZZED_PATHS
)


@pytest.fixture
def broker_folder(db: None) -> None:
    Path("var/broker/queue").mkdir(parents=True, exist_ok=True)


def row_count() -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(WebhookEvent)).one()


@schema.parametrize()
@FUZZ
def test_schema_allowed_requests(case: Any, broker_folder: None) -> None:
    before = row_count()
    response = case.call()
    assert response.status_code < 500 or (case.path == "/readyz" and response.status_code == 503), (
        response.text
    )
    text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    for secret in SECRETS:
        assert secret not in text
    assert row_count() == before  # nothing generated is a verified event
    if case.path == "/webhooks/stripe":
        assert response.status_code in (400, 405, 413)  # 405: a method the route lacks
    # The answer, refusals included, is what the schema documents (status and body).
    case.validate_response(response, checks=[status_code_conformance, response_schema_conformance])
