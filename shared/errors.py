"""Every error relink raises derives from RelinkError and carries the fields of Stripe's error
object: `type` (Stripe's vocabulary), a stable `code`, a `message` for people, the `param` it
is about, and the HTTP status an answer gives it. Only api/errors.py turns one into an HTTP
answer; the worker's never reach HTTP and keep the defaults.

Stripe's own exceptions (`stripe.StripeError`) and the libraries' are not re-rooted: relink
catches and maps them where it calls them."""

from __future__ import annotations

from typing import ClassVar, Literal

ErrorType = Literal[
    "api_error", "authentication_error", "invalid_request_error", "rate_limit_error"
]


class RelinkError(Exception):
    """Something on relink's side failed (Stripe's `api_error`)."""

    type: ClassVar[ErrorType] = "api_error"
    code: str = "api_error"
    http_status: int = 500

    def __init__(
        self,
        message: str,
        code: str | None = None,
        *,
        param: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if http_status is not None:
            self.http_status = http_status


class UnavailableError(RelinkError):
    """A dependency (the database, Stripe, a setting) is missing for now: retry later."""

    code = "unavailable"
    http_status = 503


class InvalidRequestError(RelinkError):
    """The request cannot be served as it is; sending it again changes nothing."""

    type = "invalid_request_error"
    code = "invalid_request"
    http_status = 400


class InvalidParameterError(InvalidRequestError):
    """A parameter or body field (`param`) that is not valid."""

    http_status = 422


class NotFoundError(InvalidRequestError):
    code = "not_found"
    http_status = 404


class ForbiddenError(InvalidRequestError):
    """Authenticated, but not allowed to do this (Stripe answers a restricted key so)."""

    code = "forbidden"
    http_status = 403


class ConflictError(InvalidRequestError):
    """The object's state does not allow it now; `code` says which state."""

    code = "conflict"
    http_status = 409


class AuthenticationError(RelinkError):
    """No credential, or one that does not verify (an API key, a webhook signature)."""

    type = "authentication_error"
    code = "unauthorized"
    http_status = 401


class RateLimitError(RelinkError):
    """Too many requests for now: try again in `retry_after` seconds."""

    type = "rate_limit_error"
    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, code: str | None = None, *, retry_after: int) -> None:
        super().__init__(message, code)
        self.retry_after = retry_after
