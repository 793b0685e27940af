"""docs/reverse-proxy/nginx.conf: nginx accepts it (`nginx -t`), and a real nginx running it in
front of a stub api enforces the limits and never logs a relink token. Needs nginx on the
PATH or in /usr/sbin (.ci/run installs Debian's); fails, never skips, without it."""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "docs" / "reverse-proxy" / "nginx.conf"
TOKEN = "eyJjYXNlIjo0Mn0.ZzZzZw.s3cr3t-Sig_nature"


def nginx() -> str:
    path = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    assert path, "nginx is not installed (apt-get install nginx; .ci/run does)"
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def replace_once(text: str, old: str, new: str) -> str:
    """The shipped config with one deployment-specific value swapped for the test's."""
    assert old in text, f"nginx.conf no longer has {old!r}: update this test"
    return text.replace(old, new)


@dataclass
class Site:
    """The shipped config, made runnable here: test certificate, ports, log and upstream."""

    root: Path
    https_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)

    @property
    def access_log(self) -> Path:
        return self.root / "access.log"

    @property
    def error_log(self) -> Path:
        return self.root / "error.log"

    @property
    def certificate(self) -> Path:
        return self.root / "relink.crt"

    def write(self, upstream_port: int) -> Path:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(self.root / "relink.key"), "-out", str(self.certificate)],
            check=True, capture_output=True,
        )  # fmt: skip
        text = CONFIG.read_text()
        text = replace_once(text, "/etc/nginx/tls/", f"{self.root}/")
        text = replace_once(text, "/var/log/nginx/relink.access.log", str(self.access_log))
        text = replace_once(text, "/var/log/nginx/error.log", str(self.error_log))
        text = replace_once(text, "server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
        text = replace_once(text, "listen 443 ssl;", f"listen 127.0.0.1:{self.https_port} ssl;")
        text = replace_once(text, "listen 80;", f"listen 127.0.0.1:{self.http_port};")
        (self.root / "relink.conf").write_text(text)
        temp = "\n".join(
            f"    {kind}_temp_path {self.root}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        main = self.root / "nginx.conf"
        main.write_text(
            f"pid {self.root}/nginx.pid;\nerror_log {self.error_log} info;\nevents {{}}\n"
            f"http {{\n{temp}\n    include {self.root}/relink.conf;\n}}\n"
        )
        return main


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body_bytes: int


class StubApi(BaseHTTPRequestHandler):
    """Answers 200 to anything and records what reached it."""

    protocol_version = "HTTP/1.1"
    seen: list[Seen]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.seen.append(
            Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, len(body))
        )
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stub_api() -> Iterator[tuple[int, list[Seen]]]:
    seen: list[Seen] = []
    handler = type("Handler", (StubApi,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1]), seen
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def proxy(tmp_path: Path, stub_api: tuple[int, list[Seen]]) -> Iterator[Site]:
    site = Site(tmp_path)
    main = site.write(upstream_port=stub_api[0])
    process = subprocess.Popen(
        [nginx(), "-c", str(main), "-p", str(tmp_path), "-e", "stderr", "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                socket.create_connection(("127.0.0.1", site.https_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.05)
        yield site
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def request(
    site: Site,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> int:
    context = ssl.create_default_context(cafile=str(site.certificate))
    connection = http.client.HTTPSConnection(
        "127.0.0.1", site.https_port, context=context, timeout=10
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def logged(site: Site, count: int) -> str:
    """The access log once it holds `count` lines (nginx writes a line after the response)."""
    deadline = time.monotonic() + 5
    while True:
        text = site.access_log.read_text() if site.access_log.exists() else ""
        if len(text.splitlines()) >= count or time.monotonic() > deadline:
            assert len(text.splitlines()) == count, text
            return text
        time.sleep(0.02)


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    main = Site(tmp_path).write(upstream_port=8000)
    result = subprocess.run(
        [nginx(), "-t", "-c", str(main), "-p", str(tmp_path), "-e", "stderr"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert "[warn]" not in result.stderr


def test_no_relink_token_reaches_the_access_log(
    proxy: Site, stub_api: tuple[int, list[Seen]]
) -> None:
    _, seen = stub_api
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert request(proxy, "GET", f"/relink/{TOKEN}") == 200
    assert request(proxy, "POST", f"/relink/{TOKEN}/complete", b"session_id=fcsess_1", form) == 200
    assert request(proxy, "POST", f"/relink/{TOKEN}/fresh?x={TOKEN}", b"", form) == 200
    assert request(proxy, "GET", f"/%72elink/{TOKEN}") == 200  # the api decodes it: the page
    assert request(proxy, "GET", f"//relink//{TOKEN}/setup/complete") == 200
    assert request(proxy, "GET", f"/RELINK/{TOKEN}") == 404
    assert request(proxy, "GET", f"/relink/{TOKEN}/../{TOKEN}/x") == 200
    assert [s.path for s in seen][:2] == [f"/relink/{TOKEN}", f"/relink/{TOKEN}/complete"]

    log = logged(proxy, 7)
    assert TOKEN not in log
    assert "s3cr3t" not in log
    assert '"GET /relink/<token> HTTP/1.1" 200' in log
    assert '"POST /relink/<token>/complete HTTP/1.1" 200' in log
    assert '"POST /relink/<token>/fresh HTTP/1.1" 200' in log
    assert '"GET /relink/<token>/setup/complete HTTP/1.1" 200' in log
    assert "s3cr3t" not in proxy.error_log.read_text()


def test_body_limits_per_route(proxy: Site, stub_api: tuple[int, list[Seen]]) -> None:
    _, seen = stub_api
    json = {"Content-Type": "application/json"}
    assert request(proxy, "POST", "/webhooks/stripe", b"x" * 200_000, json) == 200
    assert seen[-1].body_bytes == 200_000
    assert request(proxy, "POST", "/webhooks/stripe", b"x" * (256 * 1024 + 1), json) == 413
    assert request(proxy, "POST", f"/relink/{TOKEN}/complete", b"x" * 16_000, json) == 200
    assert request(proxy, "POST", f"/relink/{TOKEN}/complete", b"x" * 17_000, json) == 413
    assert len(seen) == 2
    # I8: the Connect endpoint and the pages' stylesheet are published too, with their limits
    assert request(proxy, "POST", "/webhooks/stripe/connect", b"x" * 200_000, json) == 200
    assert request(proxy, "POST", "/webhooks/stripe/connect", b"x" * (256 * 1024 + 1)) == 413
    assert request(proxy, "GET", "/brand.css") == 200
    assert request(proxy, "POST", "/brand.css", b"{}", json) == 403
    assert request(proxy, "POST", "/webhooks/stripe/connected", b"{}", json) == 404
    assert [s.path for s in seen[2:]] == ["/webhooks/stripe/connect", "/brand.css"]


def test_header_limits_and_private_routes(proxy: Site, stub_api: tuple[int, list[Seen]]) -> None:
    _, seen = stub_api
    assert request(proxy, "GET", "/healthz", headers={"X-Big": "a" * 9000}) == 400
    assert request(proxy, "GET", "/relink/" + "a" * 9000) == 414
    for path in ("/metrics/", "/readyz", "/healthz", "/docs", "/openapi.json"):
        assert request(proxy, "GET", path) == 404, path
    assert request(proxy, "GET", "/webhooks/stripe") == 403
    assert seen == []


def test_forwarded_headers_are_the_proxys_own(
    proxy: Site, stub_api: tuple[int, list[Seen]]
) -> None:
    _, seen = stub_api
    spoofed = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "http"}
    assert request(proxy, "POST", "/webhooks/stripe", b"{}", spoofed) == 200
    headers = seen[-1].headers
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-host"] == "127.0.0.1"
    assert headers["host"] == "127.0.0.1"


def test_plain_http_redirects_to_https_and_logs_no_token(proxy: Site) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", proxy.http_port, timeout=10)
    try:
        connection.request("GET", f"/relink/{TOKEN}")
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 301
    assert re.fullmatch(
        rf"https://127\.0\.0\.1/relink/{re.escape(TOKEN)}", response.headers["Location"]
    )
    assert TOKEN not in logged(proxy, 1)
