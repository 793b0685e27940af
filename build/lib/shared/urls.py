"""URLs as shown to people (terminals, logs, `relink doctor`): without their credentials; and
the checks on URLs relink itself writes into emails and pages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit


def masked_url(url: str) -> str:
    """The URL for anything printed or logged: its user and password shown as `***` (an SMTP
    user is often an email address)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"  # unparseable: it may hold anything
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url
    hidden = "***:***" if ":" in userinfo else "***"
    return urlunsplit(parts._replace(netloc=f"{hidden}@{host}"))


def checked_email_url(value: str) -> str:
    """EMAIL_URL, or a ValueError saying what is wrong with it (never echoing it)."""
    if not value.startswith(("smtp://", "smtps://", "file://", "console://")):
        raise ValueError("must start with smtp://, smtps://, file:// or console://")
    if value.startswith(("smtp://", "smtps://")):
        parts = urlsplit(value)
        try:
            _ = parts.port
        except ValueError:
            raise ValueError("the port must be a number from 1 to 65535") from None
        if bool(parts.username) != bool(parts.password):
            raise ValueError("give both a user and a password (URL-encoded), or neither")
    return value


LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


def checked_web_url(value: str) -> str:
    """A URL shown to customers (a logo, a support page): https, or http on this machine for
    development; a plain host name (its origin goes into the page's Content-Security-Policy),
    no credentials, no spaces or quotes. Raises a ValueError saying what is wrong."""
    if any(char.isspace() or ord(char) < 32 or char in "\"'<>\\" for char in value):
        raise ValueError("must not contain spaces, quotes or angle brackets")
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme != "https" and not (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        raise ValueError("must be an https:// URL (http:// only for localhost)")
    if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", host) or parts.username is not None:
        raise ValueError("must name a host (letters, digits, dots, hyphens) and no user")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("the port must be a number from 1 to 65535") from None
    return value
