"""Secrets in logs: an exception whose frames hold keys, payloads and passwords; secrets nested
in logged values; relink tokens in paths, including uvicorn's access log."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import structlog

from shared.logging import configure_logging
from shared.settings import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SECRETS = (
    "sk_live_51Hxyzsecretkey",
    "whsec_abcdefsecret",
    "seti_123_secret_clientsecretvalue",
    "hunter2pass",
    "ada@example.com",
)
TOKEN = "eyJjIjoxLCJhIjoiZmNhXzEifQ.Z2Vhcg.abcdefghijklmnopqrstuvwxyz012345"


def fail_with_secrets_in_locals() -> None:
    api_key = SECRETS[0]
    webhook_secret = SECRETS[1]
    payload = {"client_secret": SECRETS[2], "customer": {"email": SECRETS[4]}}
    database_url = f"postgresql://relink:{SECRETS[3]}@db:5432/relink"
    raise RuntimeError(
        f"boom while talking to {database_url}: {len(payload)} {api_key[:0]}{webhook_secret[:0]}"
    )


@pytest.mark.parametrize("as_json", [False, True])
def test_an_exception_is_logged_without_locals_and_scrubbed(
    capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    configure_logging(json=as_json)
    try:
        fail_with_secrets_in_locals()
    except RuntimeError:
        structlog.get_logger("test").exception("inbox_unavailable")
    out = capsys.readouterr().out
    assert "RuntimeError" in out  # the traceback is there…
    assert "fail_with_secrets_in_locals" in out
    for secret in SECRETS:  # …without a single secret from its frames or its message
        assert secret not in out, secret
    assert "postgresql://relink:***@db" in out


def test_log_format_json_gives_traceback_frames_without_locals(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """structlog's `dict_tracebacks` carries every frame's locals unless told not to."""
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        configure_logging()
    monkeypatch.setenv("LOG_FORMAT", "json")
    configure_logging()
    try:
        fail_with_secrets_in_locals()
    except RuntimeError:
        structlog.get_logger("test").exception("inbox_unavailable")
    (line,) = capsys.readouterr().out.splitlines()
    (exception,) = json.loads(line)["exception"]
    assert exception["exc_value"].startswith("boom while talking to postgresql://relink:***@db")
    frames = exception["frames"]
    assert "fail_with_secrets_in_locals" in [frame["name"] for frame in frames]
    assert all("locals" not in frame for frame in frames)


def test_nested_values_and_tokens_are_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    structlog.contextvars.clear_contextvars()  # nothing bound by an earlier test in the line
    structlog.get_logger("test").info(
        "page",
        path=f"/relink/{TOKEN}/complete",
        payload={"data": [{"object": {"client_secret": "anything", "note": SECRETS[0]}}]},
        broker="redis://:hunter2pass@redis:6379/0",
        link_signing_keys=["link-signing-key-1"],  # not a substring a random id may hold
    )
    out = capsys.readouterr().out
    assert TOKEN not in out
    assert "/relink/<token>/complete" in out
    for secret in (SECRETS[0], "hunter2pass", "anything", "link-signing-key-1"):
        assert secret not in out, secret


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_uvicorns_access_log_never_shows_a_relink_token(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path}/relink.db",
        "STRIPE_WEBHOOK_SECRETS": "whsec_test",
        "STRIPE_API_KEY": "sk_test_x",
        "LINK_SIGNING_KEYS": "unit-test-link-key",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail("uvicorn did not start")
                time.sleep(0.1)
        response = requests.get(f"http://127.0.0.1:{port}/relink/{TOKEN}", timeout=10)
        assert response.status_code == 400  # not a genuine link; the log line is what counts
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert "GET /relink/<token>" in output  # the access log line is there…
    assert TOKEN not in output  # …without the token
