"""`relink keys create|list|revoke`: shown once, listed by prefix, revoked for good."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from api.app import create_app
from tests.cli.conftest import relink


def test_a_key_is_shown_once_listed_by_prefix_and_revoked(db: None) -> None:
    created = relink("keys", "create", "billing app", "--scope", "write", "--scope", "read")
    assert created.exit_code == 0, created.output
    key = created.output.rsplit("keep it secret): ", 1)[1].strip()
    prefix = key[:16]
    assert prefix in created.output.splitlines()[2]  # the table row

    listed = relink("keys", "list", "--json")
    assert listed.exit_code == 0
    [row] = json.loads(listed.output)
    assert (row["prefix"], row["name"], row["scopes"]) == (prefix, "billing app", ["read", "write"])
    assert row["last_used_at"] is None
    assert key not in listed.output
    assert key not in relink("keys", "list").output

    with TestClient(create_app()) as api:
        headers = {"Authorization": f"Bearer {key}"}
        assert api.get("/api/v1/cases", headers=headers).status_code == 200
        [used] = json.loads(relink("keys", "list", "--json").output)
        assert used["last_used_at"] is not None

        revoked = relink("keys", "revoke", prefix)
        assert revoked.exit_code == 0
        assert api.get("/api/v1/cases", headers=headers).status_code == 401
    [gone] = json.loads(relink("keys", "list", "--json").output)
    assert gone["revoked_at"] is not None


def test_unknown_scopes_and_keys_are_refused(db: None) -> None:
    bad = relink("keys", "create", "x", "--scope", "admin")
    assert bad.exit_code == 1
    assert "unknown scope admin" in bad.output
    assert json.loads(relink("keys", "list", "--json").output) == []
    missing = relink("keys", "revoke", "rlk_000000000000")
    assert missing.exit_code == 1
    assert "no key rlk_000000000000" in missing.output


def test_create_json_carries_the_key_once(db: None) -> None:
    created = relink("keys", "create", "app", "--scope", "read", "--json")
    assert created.exit_code == 0
    body = json.loads(created.output)
    assert body["key"].startswith(body["prefix"] + "_")
    assert body["scopes"] == ["read"]
