"""Without LINK_SIGNING_KEYS the API and the worker must refuse to start, naming it, rather
than sign relink links with a key generated on the spot (one per host, lost with the disk,
and sitting in a world-readable file). Only `relink dev` makes one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.app import create_app
from shared.settings import ConfigError, get_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_link_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINK_SIGNING_KEYS")
    get_settings.cache_clear()


@pytest.mark.parametrize("value", [None, "", " , "])
def test_the_api_refuses_to_start(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("LINK_SIGNING_KEYS")
    else:
        monkeypatch.setenv("LINK_SIGNING_KEYS", value)
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="LINK_SIGNING_KEYS"):
        create_app()
    assert not Path("var/dev-link-signing-key").exists()


def test_the_worker_refuses_to_start(no_link_key: None, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LINK_SIGNING_KEYS"}
    worker = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--pool", "solo"]
    result = subprocess.run(
        worker,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "LINK_SIGNING_KEYS" in result.stderr
    assert not (tmp_path / "var" / "dev-link-signing-key").exists()


def test_migrations_and_operator_commands_need_no_signing_key(
    no_link_key: None, tmp_path: Path
) -> None:
    """Only what signs or verifies links asks for the key: `relink migrate` runs without it."""
    from typer.testing import CliRunner

    from cli.main import cli

    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "database migrated" in result.output
