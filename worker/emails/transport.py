"""Deliver a message through EMAIL_URL: smtp:// or smtps:// (worker/emails/smtp.py: TLS and
AUTH), file://dir (.eml files) or console:// (printed, address and link token redacted)."""

from __future__ import annotations

import os
import re
import smtplib
import tempfile
from email.message import EmailMessage
from pathlib import Path

from shared.errors import UnavailableError
from shared.logging import redact_text
from shared.settings import get_settings
from worker.emails.smtp import SmtpFailure, SmtpLoginRefused, smtp_connection

SMTP_SCHEMES = ("smtp://", "smtps://")
_LINK_TOKEN = re.compile(r"(/relink/)[A-Za-z0-9_.\-]+")


class TransportError(UnavailableError):
    """The message may not have been delivered; sending again is safe (same Message-ID)."""

    code = "email_not_delivered"


class LoginRefused(TransportError):
    """The SMTP server refused EMAIL_URL's credentials: nothing was sent, and nothing should
    be tried again with them for a while (worker/emails/claim.py `hold_after_refused_login`)."""

    code = "smtp_login_refused"


def deliver(message: EmailMessage, email_url: str, *, name: str) -> None:
    """Send `message`; `name` names its file for file:// (the same name on a retry)."""
    if email_url.startswith(SMTP_SCHEMES):
        _smtp(message, email_url)
    elif email_url.startswith("file://"):
        _file(message, Path(email_url.removeprefix("file://")), name)
    elif email_url.startswith("console://"):
        print(redact_message(message))
    else:
        raise ValueError("EMAIL_URL must start with smtp://, smtps://, file:// or console://")


def _smtp(message: EmailMessage, email_url: str) -> None:
    """A refused TLS or login is a TransportError too: the attempt fails, nothing is sent."""
    settings = get_settings()
    try:
        with smtp_connection(
            email_url, timeout=settings.email_timeout_seconds, ca_bundle=settings.email_ca_bundle
        ) as smtp:
            smtp.send_message(message)
    except SmtpLoginRefused as exc:
        raise LoginRefused(str(exc)) from exc
    except SmtpFailure as exc:
        raise TransportError(str(exc)) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransportError(f"SMTP delivery failed: {type(exc).__name__}") from exc


def _file(message: EmailMessage, directory: Path, name: str) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=directory, delete=False, suffix=".tmp") as tmp:
            tmp.write(message.as_bytes())
        os.replace(tmp.name, directory / f"{name}.eml")
    except OSError as exc:
        raise TransportError(f"cannot write the email file: {exc.strerror}") from exc


def redact_message(message: EmailMessage) -> str:
    """Headers and the text body, without the recipient's address or the link token."""
    headers = "".join(f"{key}: {value}\n" for key, value in message.items() if key != "To")
    body = message.get_body(("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return _LINK_TOKEN.sub(r"\1[token]", redact_text(f"{headers}To: [email]\n\n{text}"))
