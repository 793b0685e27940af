"""structlog set-up with redaction: no secret, client secret or email address reaches a log."""

from __future__ import annotations

import logging
import re
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

_SECRET_VALUE = re.compile(
    r"(whsec_|sk_live_|sk_test_|rk_live_|rk_test_)[A-Za-z0-9_]+|[A-Za-z0-9]+_secret_[A-Za-z0-9_]+"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_SECRET_KEYS = ("secret", "api_key", "password", "token", "email", "recipient")


def redact_text(text: str) -> str:
    return _EMAIL.sub("[email]", _SECRET_VALUE.sub("[redacted]", text))


def redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: blank values under secret-looking keys, scrub the rest."""
    for key, value in event_dict.items():
        if any(marker in key.lower() for marker in _SECRET_KEYS):
            event_dict[key] = "[redacted]"
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


def configure_logging(level: int = logging.INFO, *, json: bool = False) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
