"""URLs as shown to people (terminals, logs, `relink doctor`): without their credentials."""

from __future__ import annotations

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
