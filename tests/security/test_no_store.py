"""I3/I4: answers that carry links, tokens or addresses are never cached: every /api/v1
answer (errors too) is `no-store`, and a trailing slash after a link's token is a relative,
uncached redirect (Starlette's was absolute, from the Host header, and cacheable)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from shared.cases.links import LinkPayload, sign_link
from tests.platform_api.conftest import add_case, bearer, make_key


@pytest.fixture
def api(db: None) -> Iterator[TestClient]:
    with TestClient(create_app(), follow_redirects=False) as client:
        yield client


def test_every_api_answer_is_no_store(api: TestClient, published: list[object]) -> None:
    case_id = add_case("fcauth_ns")
    everything = bearer(make_key("read", "read:pii", "write", "write:contacts"))
    contact = "/api/v1/contacts/customer/cus_ada"
    answers = [
        api.get("/api/v1/cases", headers=everything),
        api.get(f"/api/v1/cases/{case_id}", headers=everything),
        api.post(f"/api/v1/cases/{case_id}/links", headers=everything),
        api.post(f"/api/v1/cases/{case_id}/resend", headers=everything),
        api.put(contact, json={"email": "ada@example.com"}, headers=everything),
        api.get(contact, headers=everything),
        api.delete(contact, headers=everything),
        api.post(f"/api/v1/cases/{case_id}/links/revoke", headers=everything),
        api.get("/api/v1/cases"),  # 401
        api.get("/api/v1/cases/424242", headers=everything),  # 404
        api.get("/api/v1/cases?limit=0", headers=everything),  # 422
    ]
    assert [a.status_code for a in answers] == [
        200,
        200,
        201,
        202,
        200,
        200,
        204,
        204,
        401,
        404,
        422,
    ]
    for answer in answers:
        assert answer.headers.get("cache-control") == "no-store", answer.request.url


def test_a_trailing_slash_is_a_relative_uncached_redirect(api: TestClient) -> None:
    token = sign_link(LinkPayload(1, "fca_1", "fcauth_1"))
    answer = api.get(f"/relink/{token}/", headers={"Host": "evil.example"})
    assert answer.status_code == 308
    assert answer.headers["location"] == f"/relink/{token}"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
