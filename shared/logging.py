"""structlog set-up with redaction: no secret, client secret, relink token, password or email
address reaches a log.

Exceptions are formatted first, as plain tracebacks (JSON: frames) without local variables
(structlog's rich tracebacks print locals: payloads, keys, passwords), and the redaction runs
after, over every value, nested dicts and lists included, so a secret inside an exception
message is scrubbed too. Every stdlib record (uvicorn's access log and its "Exception in ASGI
application", Celery's task trace, any library's) is scrubbed as it is made, its traceback
formatted and scrubbed then, whichever handler prints it. LOG_FORMAT picks console lines or
JSON.
"""

from __future__ import annotations

import logging
import numbers
import os
import re
from typing import Any, cast

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
    # A relink API key: its prefix names it (as in listings), the rest is the secret.
    (re.compile(r"\b(rlk_[0-9a-f]{12})_[A-Za-z0-9_-]+"), r"\1_[redacted]"),
    # A query-string value whose name says secret (`?api_key=…`, `&token=…`).
    (
        re.compile(r"([?&][^=&\s]*(?:key|secret|token|password|signature)[^=&\s]*=)[^&\s\"']+"),
        r"\1[redacted]",
    ),
    # SQLAlchemy's error text shows a statement's parameters: any of them may be personal.
    (re.compile(r"\[parameters: [^\n]*\]"), "[parameters: [redacted]]"),
    # A relink link is a bearer credential for days: keep the path, drop the token.
    (re.compile(r"(/relink/)[A-Za-z0-9_.~%-]{16,}"), r"\1<token>"),
    # The password of a URL (database, broker, SMTP).
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.IGNORECASE), r"\1***@"),
    (re.compile(r"[\w.+-]+(@|%40)[\w-]+(\.[\w-]+)+"), "[email]"),
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
        mapping = cast(dict[object, object], value)  # isinstance leaves its types unknown
        return {
            key: "[redacted]"
            if isinstance(key, str) and any(marker in key.lower() for marker in _SECRET_KEYS)
            else redact_value(item)
            for key, item in mapping.items()
        }
    if isinstance(value, list | tuple):
        items = cast(list[object] | tuple[object, ...], value)  # as for the dict above
        return type(items)(redact_value(item) for item in items)
    return value


def redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: runs after the exception is formatted, before rendering."""
    return redact_value(dict(event_dict))


def _redact_argument(value: Any) -> Any:
    if value is None or isinstance(value, numbers.Number):  # %d and %.2f keep working
        return value
    if isinstance(value, str | dict | list | tuple):
        return redact_value(value)
    return redact_text(str(value))  # an exception, a URL object…: as `%s` prints it


_TRACEBACKS = logging.Formatter()


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """A stdlib record scrubbed: its arguments one by one (kept apart: uvicorn's access
    formatter unpacks them), then the message they make (a secret only it shows, such as
    `"?token=%s"` with the token, makes it the record's whole message); and its traceback,
    formatted here as every Formatter would and left as the record's `exc_text` alone (a
    formatter given `exc_info` prints it raw)."""
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_argument(arg) for arg in record.args)
    elif isinstance(record.args, dict):
        record.args = redact_value(record.args)
    if not record.args:
        record.msg = redact_text(str(record.msg))
    else:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            message = None  # a bad format: logging reports it when a handler formats it
        if message is not None and redact_text(message) != message:
            record.msg, record.args = redact_text(message), ()
    if record.exc_info:
        record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        record.exc_info = None
    if record.exc_text:
        record.exc_text = redact_text(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)
    return record


class _RedactingRecordFactory:
    """Every stdlib record is scrubbed as it is made: whatever logger, handler or formatter
    later prints it (a filter on named loggers misses the records of their children and the
    tracebacks)."""

    def __init__(self, make: Any) -> None:
        self._make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(self._make(*args, **kwargs))


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
    if not isinstance(logging.getLogRecordFactory(), _RedactingRecordFactory):
        logging.setLogRecordFactory(_RedactingRecordFactory(logging.getLogRecordFactory()))
