"""The relink page's form routes read the whole body into memory before looking at its size or
at the token: a 300 MB POST to /relink/x/complete took the api from 123 MB to 737 MB RSS. Now
the token is checked first (a bad one is answered without reading the body), a Content-Length
over 16 KiB is refused before reading, and a body sent without one is cut off once past
16 KiB: 413."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared.cases.links import LinkPayload, sign_link
from shared.settings import Settings
from sim.testing import SimServer
from tests.integration.stack import free_port, uvicorn_command, wait_until
from tests.relink_page.pages import snapshot
from tests.relink_page.world import World

LIMIT = 16 * 1024
ROUTES = ["session", "complete", "setup", "setup/complete", "fresh"]
FORM = {"content-type": "application/x-www-form-urlencoded"}
MB = 1024 * 1024
BIG = 300 * MB


def chunks(total: int, size: int = 1024) -> Iterator[bytes]:
    for _ in range(total // size):
        yield b"a" * size


@pytest.mark.parametrize("route", ROUTES)
def test_a_declared_length_over_16_kib_is_refused(
    client: TestClient, world: World, sim: SimServer, route: str
) -> None:
    before = snapshot()
    answer = client.post(
        f"/relink/{world.token()}/{route}", content=b"session_id=" + b"a" * LIMIT, headers=FORM
    )
    assert answer.status_code == 413
    assert answer.headers["cache-control"] == "no-store"
    assert snapshot() == before
    assert sim.client.requests("/v1/") == []


@pytest.mark.parametrize("route", ROUTES)
def test_a_body_streamed_past_16_kib_is_cut_off(
    client: TestClient, world: World, sim: SimServer, route: str
) -> None:
    before = snapshot()
    answer = client.post(
        f"/relink/{world.token()}/{route}", content=chunks(LIMIT + 1024), headers=FORM
    )
    assert answer.status_code == 413
    assert snapshot() == before
    assert sim.client.requests("/v1/") == []


def test_a_bad_token_is_answered_before_the_body(client: TestClient) -> None:
    # 400 for the token, not 413 for the body: the token is looked at first
    answer = client.post("/relink/x/complete", content=b"a" * (LIMIT + 1), headers=FORM)
    assert answer.status_code == 400
    assert "This link isn't valid" in answer.text


# A real uvicorn, as deployed (httptools), and 300 MB sent at it.


def peak_rss(pid: int) -> int:
    """The process's peak resident set size (VmHWM), bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def post_big(port: int, path: str, *, chunked: bool, size: int = BIG) -> int | None:
    """POST `size` bytes (declared, or chunked without a length); the status, or None when the
    server closed the connection before answering."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\n{framing}\r\n\r\n"
    )
    block = b"a" * min(size, MB)
    if chunked:
        block = f"{len(block):x}\r\n".encode() + block + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        try:
            for _ in range(max(1, size // MB)):
                sock.sendall(block)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed while we were still sending
            pass
        try:
            answer = sock.recv(4096)
        except OSError:
            return None
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


def test_a_300_mb_post_does_not_grow_the_api(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/relink.db",
        "LINK_SIGNING_KEYS": "rss-test-link-key",
        "STRIPE_API_KEY": "sk_test_rss",
    }
    api = subprocess.Popen(
        uvicorn_command(port, "--factory", "--http", "httptools", "--no-access-log"),
        env=env,
        cwd=tmp_path,
    )
    try:
        wait_until(
            lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() is None,
            30,
            "uvicorn",
        )
        token = sign_link(
            LinkPayload(1, "fca_1", "fcauth_1"),
            Settings(link_signing_keys=[SecretStr("rss-test-link-key")]),
        )
        for path in ("/relink/x/complete", f"/relink/{token}/complete"):  # warm up, 1 KiB
            post_big(port, path, chunked=False, size=1024)
        time.sleep(0.5)
        before = peak_rss(api.pid)
        results = {
            "bad token, declared length": post_big(port, "/relink/x/complete", chunked=False),
            "good token, declared length": post_big(
                port, f"/relink/{token}/complete", chunked=False
            ),
            "good token, chunked": post_big(port, f"/relink/{token}/complete", chunked=True),
        }
        after = peak_rss(api.pid)
    finally:
        api.terminate()
        api.wait(timeout=10)
    print(
        f"api peak RSS {before / MB:.0f} MB before, {after / MB:.0f} MB after 3 x 300 MB; {results}"
    )
    assert results["bad token, declared length"] in (400, None)
    assert results["good token, declared length"] in (413, None)
    assert results["good token, chunked"] in (413, None)
    assert after - before < 32 * MB
