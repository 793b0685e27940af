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
