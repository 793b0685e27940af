"""L2: filters PostgreSQL cannot hold (NUL) or datetimes at the ends of the range are a 422
naming the parameter, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.platform_api.conftest import bearer, make_key


@pytest.fixture
def api(db: None) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("name", ["customer", "connected_account", "authorization", "institution"])
def test_a_nul_in_a_filter_is_a_422(api: TestClient, name: str) -> None:
    response = api.get("/api/v1/cases", params={name: "cus_\x00"}, headers=bearer(make_key("read")))
    assert response.status_code == 422
    assert name in response.text


@pytest.mark.parametrize(
    ("moment", "status"),
    [
        ("0001-01-01T00:00:00+01:00", 422),  # in UTC, before year 1
        ("9999-12-31T23:59:59.999999-01:00", 422),  # in UTC, after year 9999
        ("0001-01-01T00:00:00", 200),
        ("9999-12-31T23:59:59.999999", 200),
    ],
)
def test_updated_since_at_the_ends_of_the_range_is_answered(
    api: TestClient, moment: str, status: int
) -> None:
    response = api.get(
        "/api/v1/cases", params={"updated_since": moment}, headers=bearer(make_key("read"))
    )
    assert response.status_code == status, response.text
    if status == 422:
        assert response.json()["error"]["message"].startswith("updated_since")
