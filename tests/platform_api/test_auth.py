"""API keys on the API: 401 without a live key, 403 without the scope, the key kept only as
its hash, its last use recorded."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient
from sqlmodel import select

from shared.api_keys import revoke_key
from shared.db import session_scope
from shared.models import ApiKey
from tests.platform_api.conftest import add_case, bearer, make_key


def error_of(response: object) -> dict[str, str | None]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "code", "message", "param"}
    return body["error"]


def test_no_key_is_401_in_the_api_error_shape(api: TestClient) -> None:
    response = api.get("/api/v1/cases")
    assert response.status_code == 401
    assert error_of(response) == {
        "type": "authentication_error",
        "code": "unauthorized",
        "message": "an API key is required: Authorization: Bearer <key>",
        "param": None,
    }
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_malformed_or_unknown_key_is_401(
    api: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    for header in ("Bearer nope", "Basic YWRhOmFkYQ==", "Bearer rlk_000000000000_" + "a" * 43):
        response = api.get("/api/v1/cases", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert error_of(response)["code"] == "unauthorized"


def test_each_route_needs_its_scope(api: TestClient, keys: dict[str, dict[str, str]]) -> None:
    case_id = add_case("fcauth_scopes")
    reads = [
        f"/api/v1/cases/{case_id}",
        "/api/v1/cases",
        "/api/v1/accounts/fca_scopes1",
        "/api/v1/revenue",
    ]
    for path in reads:
        assert api.get(path, headers=keys["read"]).status_code == 200, path
        forbidden = api.get(path, headers=keys["write"])
        assert forbidden.status_code == 403, path
        assert error_of(forbidden) == {
            "type": "invalid_request_error",
            "code": "forbidden",
            "message": "the API key lacks the read scope",
            "param": None,
        }
    writes = [f"/api/v1/cases/{case_id}/links", f"/api/v1/cases/{case_id}/resend"]
    for path in writes:
        forbidden = api.post(path, headers=keys["read"])
        assert forbidden.status_code == 403, path
        assert error_of(forbidden)["code"] == "forbidden"
    contact = {"email": "ada@example.com"}
    assert (
        api.put("/api/v1/contacts/customer/cus_ada", json=contact, headers=keys["pii"]).status_code
        == 403
    )
    put = "/api/v1/contacts/customer/cus_ada"
    assert api.put(put, json=contact, headers=keys["write"]).status_code == 403
    assert api.put(put, json=contact, headers=keys["contacts"]).status_code == 200
    assert api.post(writes[0], headers=keys["write"]).status_code == 201
    assert api.post(writes[1], headers=keys["write"]).status_code == 202


def test_the_key_is_stored_only_as_its_sha256_and_its_use_is_recorded(api: TestClient) -> None:
    key = make_key("read")
    with session_scope() as session:
        [row] = session.exec(select(ApiKey)).all()
    assert key.startswith(row.prefix + "_")
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in repr(row.model_dump())
    assert row.last_used_at is None

    assert api.get("/api/v1/cases", headers=bearer(key)).status_code == 200
    with session_scope() as session:
        used = session.get(ApiKey, row.id)
    assert used is not None
    assert used.last_used_at is not None


def test_a_revoked_key_is_401_at_once(api: TestClient) -> None:
    key = make_key("read")
    assert api.get("/api/v1/cases", headers=bearer(key)).status_code == 200
    with session_scope() as session:
        assert revoke_key(session, key[:16]) is not None
    response = api.get("/api/v1/cases", headers=bearer(key))
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
