"""L3: `X-Forwarded-For` is believed only from the reverse proxy named in FORWARDED_ALLOW_IPS.
uvicorn's own default trusts any loopback peer, so a client on this host rotating the header
got a fresh /ops login allowance per request (and a hosted mandate would record the address
it chose): relink's image and `relink dev` trust no address unless told, and compose makes
FORWARDED_ALLOW_IPS a required setting."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn

from cli import embedded
from tests.security.test_compose_exposure import ROOT, SERVICES, dockerfile_cmd, option
from tests.security.test_log_redaction import free_port

OPS_TOKEN = "ops-token-for-the-forwarded-for-test"
ATTEMPTS = 3


def dockerfile_env() -> dict[str, str]:
    """The `ENV name=value` lines of the Dockerfile, as the image's processes see them."""
    text = (ROOT / "Dockerfile").read_text()
    return {
        name: value.strip('"')
        for name, value in re.findall(r"^ENV\s+([A-Z_]+)=(\S*)\s*$", text, re.MULTILINE)
    }


def test_the_images_uvicorn_counts_logins_per_real_peer(tmp_path: Path) -> None:
    """The Dockerfile's own command and environment, on loopback: five wrong logins, each
    claiming another address, are still one client's attempts."""
    port = free_port()
    command = dockerfile_cmd()
    assert option(command, "--forwarded-allow-ips") is None  # FORWARDED_ALLOW_IPS decides
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    env = {
        **{k: v for k, v in os.environ.items() if k != "FORWARDED_ALLOW_IPS"},
        **dockerfile_env(),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path}/relink.db",
        "STRIPE_WEBHOOK_SECRETS": "whsec_test",
        "STRIPE_API_KEY": "sk_test_x",
        "LINK_SIGNING_KEYS": "unit-test-link-key",
        "OPS_TOKEN": OPS_TOKEN,
        "OPS_AUTH_ATTEMPTS_PER_MINUTE": str(ATTEMPTS),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail("uvicorn did not start")
                time.sleep(0.1)
        answers = [
            requests.post(
                f"{base}/ops/login",
                data={"token": "a wrong guess"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
                allow_redirects=False,
                timeout=10,
            ).status_code
            for n in range(ATTEMPTS + 2)
        ]
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert answers == [401] * ATTEMPTS + [429, 429]


def test_compose_requires_the_proxys_address() -> None:
    environment = SERVICES["api"]["environment"]
    assert environment["FORWARDED_ALLOW_IPS"].startswith("${FORWARDED_ALLOW_IPS:?")


def client_seen_by_uvicorn(forwarded_for: str) -> Any:
    """The client address an app behind uvicorn's proxy-header handling (its defaults, read
    from this environment as `uvicorn.run` does) sees for a loopback peer."""
    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["client"])

    config = uvicorn.Config(app)
    config.load()
    scope = {
        "type": "http",
        "client": ("127.0.0.1", 50000),
        "headers": [(b"x-forwarded-for", forwarded_for.encode())],
    }
    asyncio.run(config.loaded_app(scope, None, None))
    return seen[0]


def test_relink_dev_trusts_no_forwarded_header_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("FORWARDED_ALLOW_IPS", "PUBLIC_BASE_URL", "EXPOSE_DOCS", "METRICS_ENABLED"):
        monkeypatch.setenv(name, "")  # so the fixture restores what `relink dev` sets
        monkeypatch.delenv(name)
    embedded._fill_environment("127.0.0.1", 8000, 12111)  # what `relink dev` starts with
    assert client_seen_by_uvicorn("203.0.113.7") == ("127.0.0.1", 50000)

    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "127.0.0.1")  # a proxy on this host, named
    embedded._fill_environment("127.0.0.1", 8000, 12111)
    assert client_seen_by_uvicorn("203.0.113.7") == ("203.0.113.7", 0)
