"""Real SMTP servers (aiosmtpd) for the transport's attack tests: STARTTLS or implicit TLS,
AUTH, certificates from a throwaway CA made with openssl, and what each server saw."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

from shared.settings import get_settings

USER = "AKIAEXAMPLEUSER"
PASSWORD = "BPr/7x+Secret/Pass=word+9"  # SES-like: `/`, `+` and `=` need URL-encoding


def smtp_url(port: int, *, scheme: str = "smtp", password: str = PASSWORD) -> str:
    return f"{scheme}://{quote(USER, safe='')}:{quote(password, safe='')}@localhost:{port}"


@dataclass
class Pki:
    ca: Path  # the CA relink may be told to trust (EMAIL_CA_BUNDLE)
    cert: Path  # localhost and 127.0.0.1, signed by the CA
    key: Path
    other_cert: Path  # signed by the same CA for another host name
    other_key: Path

    def server_context(self, *, other_name: bool = False) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if other_name:
            context.load_cert_chain(self.other_cert, self.other_key)
        else:
            context.load_cert_chain(self.cert, self.key)
        return context


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


def make_pki(directory: Path) -> Pki:
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", ca_key, "-out", ca, "-subj", "/CN=relink test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip

    def leaf(name: str, san: str) -> tuple[Path, Path]:
        key, csr, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "pem"))
        extensions = directory / f"{name}.ext"
        extensions.write_text(
            f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        )
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                 "-subj", f"/CN={name}")  # fmt: skip
        _openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-set_serial",
                 str(len(name)), "-days", "2", "-out", cert, "-extfile", extensions)  # fmt: skip
        return cert, key

    cert, key = leaf("localhost", "DNS:localhost,IP:127.0.0.1")
    other_cert, other_key = leaf("mail.elsewhere.example", "DNS:mail.elsewhere.example")
    return Pki(ca, cert, key, other_cert, other_key)


def use_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


@dataclass
class Seen:
    """What the server saw: AUTH commands, logins tried, messages delivered."""

    started_auths: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)
    messages: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login = (data.login.decode(), data.password.decode())
        self.logins.append(login)
        return AuthResult(success=login == (USER, PASSWORD), handled=False)


class RecordingSMTP(SMTP):
    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        handler = self.event_handler
        assert isinstance(handler, Seen)
        handler.started_auths += 1
        await super().smtp_AUTH(arg)


class RecordingController(Controller):
    def factory(self) -> SMTP:
        return RecordingSMTP(self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server(
    *,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    auth: bool = True,
) -> Iterator[tuple[int, Seen]]:
    """A server on 127.0.0.1. With `starttls` it requires STARTTLS, then AUTH; with
    `implicit_tls` it speaks TLS from the start; without TLS and with `auth` it offers AUTH
    over plaintext (a downgraded relay)."""
    seen = Seen()
    port = free_port()
    kwargs: dict[str, Any] = {}
    if auth:
        # aiosmtpd does not count implicit TLS as TLS for AUTH: only STARTTLS requires it.
        kwargs.update(
            authenticator=seen.authenticate,
            auth_required=starttls is not None,
            auth_require_tls=starttls is not None,
        )
    if starttls is not None:
        kwargs.update(tls_context=starttls, require_starttls=True)
    controller = RecordingController(
        seen, hostname="127.0.0.1", port=port, ssl_context=implicit_tls, **kwargs
    )
    controller.start()
    try:
        yield port, seen
    finally:
        controller.stop()


def a_message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "relink <relink@example.com>"
    message["To"] = "ada@example.com"
    message["Subject"] = "Reconnect your bank"
    message["Message-ID"] = "<relink-outbox-1@relink.example>"
    message.set_content("https://relink.example/relink/token\n")
    return message
