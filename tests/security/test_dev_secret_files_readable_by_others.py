"""`relink dev` keeps a webhook secret, a link-signing key and a database (payloads, email
addresses) under var/: another user of the machine must not be able to read them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.cli.conftest import fake_dev, relink

SECRETS = (Path("var/dev-webhook-secret"), Path("var/dev-link-signing-key"))
DATABASE = Path("var/relink.db")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_dev_writes_its_secrets_and_database_owner_only(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_dev(monkeypatch):
        result = relink("dev")
    assert result.exit_code == 0, result.output
    assert {str(path): mode(path) for path in (*SECRETS, DATABASE)} == {
        "var/dev-webhook-secret": 0o600,
        "var/dev-link-signing-key": 0o600,
        "var/relink.db": 0o600,
    }


def test_dev_makes_files_an_older_relink_left_readable_owner_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Path("var").mkdir()
    SECRETS[0].write_text("whsec_left_by_an_older_relink")
    SECRETS[1].write_text("a-link-key-left-by-an-older-relink-000")
    DATABASE.write_bytes(b"")
    for path in (*SECRETS, DATABASE):
        path.chmod(0o644)
    with fake_dev(monkeypatch) as run:
        result = relink("dev")
    assert result.exit_code == 0, result.output
    assert [mode(path) for path in (*SECRETS, DATABASE)] == [0o600, 0o600, 0o600]
    assert run.served[0].env["STRIPE_WEBHOOK_SECRETS"] == "whsec_left_by_an_older_relink"
