"""Forged, guessed, misplaced and revoked API keys: every one is a 401 that echoes nothing,
and the stored hash is compared in constant time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from shared import api_keys
from shared.db import session_scope
from tests.platform_api.conftest import bearer, make_key


@pytest.fixture
def api(db: None) -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client


def refused(response: object, presented: str) -> None:
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.json()["error"]["code"] == "unauthorized"  # type: ignore[attr-defined]
    assert presented not in response.text  # type: ignore[attr-defined]


def test_the_right_prefix_with_any_other_secret_is_refused(api: TestClient) -> None:
    key = make_key("read", "write", "read:pii")
    prefix, secret = key[:16], key[17:]
    forgeries = [
        f"{prefix}_{'A' * 43}",
        f"{prefix}_{secret[:-1]}{'B' if secret[-1] != 'B' else 'C'}",
        f"{prefix}_{secret[:-1]}",  # one character short
        f"{key}x",  # one too many
        prefix,
        f"{prefix}_",
        key.upper(),
    ]
    for forged in forgeries:
        refused(api.get("/api/v1/cases", headers=bearer(forged)), forged)
    assert api.get("/api/v1/cases", headers=bearer(key)).status_code == 200


def test_a_key_anywhere_but_the_authorization_header_is_refused(api: TestClient) -> None:
    key = make_key("read")
    refused(api.get("/api/v1/cases", params={"api_key": key}), key)
    refused(api.get("/api/v1/cases", params={"key": key}), key)
    refused(api.get("/api/v1/cases", headers={"X-Api-Key": key}), key)
    refused(api.get("/api/v1/cases", headers={"Authorization": key}), key)  # no scheme
    api.cookies.set("api_key", key)
    refused(api.get("/api/v1/cases"), key)


def test_a_revoked_key_stays_refused_and_its_prefix_cannot_be_reissued(api: TestClient) -> None:
    key = make_key("read")
    with session_scope() as session:
        assert api_keys.revoke_key(session, key[:16]) is not None
    refused(api.get("/api/v1/cases", headers=bearer(key)), key)
    with session_scope() as session:  # revoking again changes nothing
        row = api_keys.revoke_key(session, key[:16])
        assert row is not None
        assert row.revoked_at is not None
    refused(api.get("/api/v1/cases", headers=bearer(key)), key)


def test_the_stored_hash_is_compared_in_constant_time(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = make_key("read")
    compared: list[tuple[str, str]] = []
    real = api_keys.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(api_keys.hmac, "compare_digest", spy)
    forged = f"{key[:16]}_{'A' * 43}"
    refused(api.get("/api/v1/cases", headers=bearer(forged)), forged)
    assert api.get("/api/v1/cases", headers=bearer(key)).status_code == 200
    assert [b for _, b in compared] == [api_keys.key_hash(forged), api_keys.key_hash(key)]
