"""An SMTP session as EMAIL_URL asks for it, shared by the transport and `relink doctor`.

- smtp://host:port: SMTP without login, for local sinks (Mailpit), over STARTTLS when the
  server offers it (verified as below), else plain;
- smtp://user:password@host:587: STARTTLS is required before AUTH; a server that does not
  offer it is refused, so the credentials never cross the network in the clear;
- smtps://user:password@host:465: TLS from the first byte (implicit TLS).
User and password are URL-decoded (SES SMTP passwords contain `/` and `+`). Certificates are
verified against the system's CAs, or against EMAIL_CA_BUNDLE alone when it is set. Errors
name EMAIL_URL and the server, never the user or the password (a Postmark user is its token).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from shared.errors import UnavailableError


class SmtpFailure(UnavailableError):
    """Connecting, TLS or AUTH failed; the message is safe to log and store."""

    code = "smtp_failure"


class SmtpLoginRefused(SmtpFailure):
    """The server refused the credentials (a 5xx to AUTH): trying again with the same ones
    only counts failed logins at the provider, which may lock the account."""

    code = "smtp_login_refused"


# smtplib's own order; one mechanism per login (smtplib's login() tries every advertised one
# in turn: two failed logins per attempt at a provider offering PLAIN and LOGIN).
AUTH_MECHANISMS = ("CRAM-MD5", "PLAIN", "LOGIN")


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool
    user: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, email_url: str) -> SmtpServer:
        parts = urlsplit(email_url)
        implicit_tls = parts.scheme == "smtps"
        try:
            port = parts.port or (465 if implicit_tls else 25)
        except ValueError:
            raise SmtpFailure("EMAIL_URL: the port is not a number from 1 to 65535") from None
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        if (user is None) != (password is None):
            raise SmtpFailure("EMAIL_URL: give both a user and a password, or neither")
        return cls(parts.hostname or "localhost", port, implicit_tls, user, password)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def scrub(self, text: str) -> str:
        """`text` without the credentials (a server may echo the user name)."""
        for secret in (self.password, self.user):
            if secret:
                text = text.replace(secret, "***")
        return text[:300]


@lru_cache(maxsize=4)
def tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """Certificate and host name verified; EMAIL_CA_BUNDLE replaces the system's CAs. Built
    once per bundle and process: loading the CAs was 9 % of the worker's time in a burst,
    once per SMTP session (a changed bundle file is read at the next start)."""
    return ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)


def smtp_connection(email_url: str, *, timeout: float, ca_bundle: Path | None) -> smtplib.SMTP:
    """Connected, over TLS and logged in when EMAIL_URL asks; use it as a context manager.
    Raises SmtpFailure for anything before MAIL FROM."""
    server = SmtpServer.parse(email_url)
    context = tls_context(ca_bundle)
    try:
        if server.implicit_tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                server.host, server.port, timeout=timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=timeout)
    except ssl.SSLError as exc:
        raise SmtpFailure(_tls_failed(server, exc)) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpFailure(
            f"EMAIL_URL: cannot reach SMTP {server.where}: {type(exc).__name__}"
        ) from exc
    try:
        if server.user is not None and server.password is not None:
            if not server.implicit_tls:
                _starttls(smtp, server, context)
            _login(smtp, server, server.user, server.password)
        elif not server.implicit_tls:
            _starttls(smtp, server, context, required=False)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _starttls(
    smtp: smtplib.SMTP, server: SmtpServer, context: ssl.SSLContext, *, required: bool = True
) -> None:
    """STARTTLS; a server that does not offer it is refused when `required` (credentials
    follow), else the session stays plain."""
    try:
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            if not required:
                return
            raise SmtpFailure(
                f"EMAIL_URL has credentials but SMTP {server.where} does not offer STARTTLS: "
                "relink never sends them unencrypted (use smtps:// if the server has it)"
            )
        smtp.starttls(context=context)
    except ssl.SSLError as exc:
        raise SmtpFailure(_tls_failed(server, exc)) from exc
    except smtplib.SMTPResponseException as exc:
        raise SmtpFailure(
            f"EMAIL_URL: SMTP {server.where} refused STARTTLS "
            f"({exc.smtp_code} {server.scrub(_text(exc.smtp_error))})"
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpFailure(
            f"EMAIL_URL: STARTTLS with SMTP {server.where} failed: {type(exc).__name__}"
        ) from exc


def _login(smtp: smtplib.SMTP, server: SmtpServer, user: str, password: str) -> None:
    try:
        smtp.ehlo_or_helo_if_needed()
        offered = smtp.esmtp_features.get("auth", "").upper().split()
        mechanism = next((m for m in AUTH_MECHANISMS if m in offered), None)
        if mechanism is None:
            raise SmtpFailure(f"EMAIL_URL has credentials but SMTP {server.where} offers no AUTH")
        smtp.user, smtp.password = user, password
        respond = getattr(smtp, "auth_" + mechanism.lower().replace("-", "_"))
        smtp.auth(mechanism, respond, initial_response_ok=True)
    except smtplib.SMTPResponseException as exc:
        refused = SmtpLoginRefused if 500 <= exc.smtp_code < 600 else SmtpFailure
        raise refused(
            f"EMAIL_URL: SMTP {server.where} refused the login "
            f"({exc.smtp_code} {server.scrub(_text(exc.smtp_error))})"
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpFailure(
            f"EMAIL_URL: login to SMTP {server.where} failed: {type(exc).__name__}"
        ) from exc


def _tls_failed(server: SmtpServer, exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"EMAIL_URL: TLS with SMTP {server.where} failed: certificate verify failed: "
            f"{exc.verify_message} (a private relay's CA: set EMAIL_CA_BUNDLE)"
        )
    return f"EMAIL_URL: TLS with SMTP {server.where} failed: {exc.reason or type(exc).__name__}"


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
