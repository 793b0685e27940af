"""M2: the API's PUT reads no body before the key is checked, and never more than 4 KiB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.platform_api.conftest import bearer, make_key

PATH = "/api/v1/contacts/customer/cus_ada"


@pytest.fixture
def api(db: None) -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client


def test_no_key_is_refused_before_the_body_is_read(api: TestClient) -> None:
    # A body FastAPI would have had to parse (and reject as 422) first: 401 means unread.
    junk = b"{" * (1024 * 1024)
    response = api.put(PATH, content=junk, headers={"Content-Type": "application/json"})
    assert response.status_code == 401


def test_a_body_over_the_cap_is_refused(api: TestClient) -> None:
    key = bearer(make_key("write:contacts"))
    big = '{"email": "ada@example.com", "name": "' + "a" * 5000 + '"}'
    response = api.put(PATH, content=big, headers={**key, "Content-Type": "application/json"})
    assert (response.status_code, response.json()["error"]["code"]) == (413, "too_large")
    assert api.get(PATH, headers=bearer(make_key("read"))).status_code == 404
    bad = api.put(PATH, content=b'{"email": 1}', headers=key)
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_request")
