"""What an API key without read:pii can learn about people: no full email address anywhere
(lists, one case's timeline, contacts, even ones it just set) and no link token outside a
minted link."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.platform_api.conftest import ADDRESS, add_case, add_sent_email, bearer, make_key


@pytest.fixture
def api(db: None) -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client


def test_no_full_address_without_read_pii(api: TestClient) -> None:
    case_id = add_case("fcauth_pii")
    add_sent_email(case_id)
    reader = bearer(make_key("read", "write", "write:contacts"))
    other = "grace.hopper@example.org"
    put = api.put("/api/v1/contacts/customer/cus_ada", json={"email": other}, headers=reader)
    assert put.status_code == 200
    responses = [
        put,
        api.get("/api/v1/cases", headers=reader),
        api.get("/api/v1/cases", params={"customer": "cus_ada"}, headers=reader),
        api.get(f"/api/v1/cases/{case_id}", headers=reader),
        api.get("/api/v1/accounts/fca_pii1", headers=reader),
        api.get("/api/v1/contacts/customer/cus_ada", headers=reader),
    ]
    for response in responses:
        assert response.status_code == 200, response.request.url
        assert ADDRESS not in response.text
        assert other not in response.text
        assert "/relink/" not in response.text  # a link is a credential: only when minted

    pii = bearer(make_key("read", "read:pii"))
    assert ADDRESS in api.get(f"/api/v1/cases/{case_id}", headers=pii).text
    assert other in api.get("/api/v1/contacts/customer/cus_ada", headers=pii).text
    listed = api.get("/api/v1/cases", headers=pii)
    assert "@" not in listed.text  # a list never carries addresses at all
