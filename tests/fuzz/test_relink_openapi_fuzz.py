"""Schemathesis on the relink routes of the app's OpenAPI schema: whatever token the schema
allows (none of them genuinely signed) is answered below 500 with an error page, writes
nothing and shows no secret."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import settings

from tests.fuzz.conftest import FUZZ, SECRETS, app_with_schema
from tests.relink_page.pages import snapshot

RELINK_PATHS = [
    "/relink/{token}",
    "/relink/{token}/session",
    "/relink/{token}/complete",
    "/relink/{token}/setup",
    "/relink/{token}/setup/complete",
    "/relink/{token}/fresh",
]
PER_OPERATION = settings(
    FUZZ, max_examples=int(os.environ.get("RELINK_FUZZ_EXAMPLES", "100")) // 6 or 1
)

# Built at import, as in test_openapi_fuzz.py (the app reads its settings per request).
schema = schemathesis.openapi.from_asgi("/openapi.json", app_with_schema()).include(
    path=RELINK_PATHS
)


@pytest.fixture
def broker_folder(db: None) -> None:
    Path("var/broker/queue").mkdir(parents=True, exist_ok=True)


@schema.parametrize()
@PER_OPERATION
def test_relink_routes_reject_what_the_schema_allows(case: Any, broker_folder: None) -> None:
    before = snapshot()
    response = case.call()
    assert response.status_code in (400, 404, 405, 410), response.text[:500]
    text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    for secret in SECRETS:
        assert secret not in text
    assert "_secret_" not in response.text
    assert snapshot() == before
