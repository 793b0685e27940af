"""Regression (found by tests/fuzz/test_relink_fuzz.py): a genuinely signed token whose
payload has the wrong types (case_id null, a string, a bool, beyond 64 bits; ids that are not
strings) answered 500 from the database lookup. It is now the "invalid link" page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer

from api.app import create_app
from shared.cases.links import SALT

GOOD = {"case_id": 1, "account_id": "fca_1", "authorization_id": "fcauth_1"}


@pytest.fixture
def client(db: None) -> Iterator[TestClient]:
    Path("var/broker/queue").mkdir(parents=True, exist_ok=True)
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def token(payload: dict[str, Any]) -> str:
    return str(URLSafeTimedSerializer("unit-test-link-key", salt=SALT).dumps(payload))


@pytest.mark.parametrize(
    "override",
    [
        {"case_id": None},
        {"case_id": "1"},
        {"case_id": True},
        {"case_id": 1.5},
        {"case_id": [1]},
        {"case_id": {"id": 1}},
        {"case_id": 2**63},
        {"case_id": -(2**70)},
        {"case_id": 0},
        {"account_id": None},
        {"authorization_id": ["fcauth_1"]},
    ],
)
@pytest.mark.parametrize("route", ["", "/fresh"])
def test_a_signed_payload_of_the_wrong_types_is_an_invalid_link(
    client: TestClient, override: dict[str, Any], route: str
) -> None:
    url = f"/relink/{token({**GOOD, **override})}{route}"
    response = client.post(url) if route else client.get(url)
    assert response.status_code == 400
    assert "This link isn't valid" in response.text


def test_a_well_formed_payload_for_no_case_is_still_a_404(client: TestClient) -> None:
    assert client.get(f"/relink/{token(GOOD)}").status_code == 404
