"""structlog set-up with redaction: no secret, client secret, relink token, password or email
address reaches a log.

Exceptions are formatted first, as plain tracebacks (JSON: frames) without local variables
(structlog's rich tracebacks print locals: payloads, keys, passwords), and the redaction runs
after, over every value, nested dicts and lists included, so a secret inside an exception
message is scrubbed too. uvicorn's access log goes through the same scrubbing (its paths carry
relink tokens). LOG_FORMAT picks console lines or JSON.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, WrappedLogger

from shared.settings import ConfigError

_PATTERNS = (
    # Stripe secret and restricted keys, webhook secrets, client secrets (`seti_…_secret_…`).
    (
        re.compile(
            r"(whsec_|sk_live_|sk_test_|rk_live_|rk_test_)[A-Za-z0-9_]+"
            r"|[A-Za-z0-9]+_secret_[A-Za-z0-9_]+"
        ),
        "[redacted]",
    ),
    # A relink link is a bearer credential for days: keep the path, drop the token.
    (re.compile(r"(/relink/)[A-Za-z0-9_.~%-]{16,}"), r"\1<token>"),
    # The password of a URL (database, broker, SMTP).
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.IGNORECASE), r"\1***@"),
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]"),
)
_SECRET_KEYS = (
    "secret",
    "api_key",
    "password",
    "token",
    "email",
    "recipient",
    "signing_key",
    "cookie",
)


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """Strings scrubbed, containers walked; values under secret-looking keys blanked."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            key: "[redacted]"
            if isinstance(key, str) and any(marker in key.lower() for marker in _SECRET_KEYS)
            else redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value


def redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: runs after the exception is formatted, before rendering."""
    return redact_value(dict(event_dict))


class RedactingFilter(logging.Filter):
    """For stdlib loggers (uvicorn's access log): scrub the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(redact_value(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = redact_value(record.args)
        return True


def _json_from_log_format() -> bool:
    """LOG_FORMAT (console or json), read here where logging is set up, apart from Settings."""
    log_format = os.environ.get("LOG_FORMAT", "console").strip().lower()
    if log_format not in ("console", "json"):
        raise ConfigError(
            f"invalid configuration: LOG_FORMAT: {log_format!r} is not console or json"
        )
    return log_format == "json"


def configure_logging(level: int = logging.INFO, *, json: bool | None = None) -> None:
    """Console lines, or JSON (`json`, else LOG_FORMAT) with tracebacks as frames."""
    if json is None:
        json = _json_from_log_format()
    # structlog's own `dict_tracebacks` shows locals by default: never here.
    exceptions: Any = (
        structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        if json
        else structlog.processors.format_exc_info  # plain text, never locals
    )
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            exceptions,
            redact,  # after the exception is formatted: its text and frames are scrubbed too
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    for name in ("uvicorn.access", "uvicorn.error", "celery", "celery.app.trace"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
