"""The one place an error becomes an HTTP answer, in Stripe's shape:
`{"error": {"type": …, "code": …, "message": …, "param": …}}`, for the platform API, the
webhook receiver (api/webhooks/receiver.py renders with `error_body`) and /ops, and for what
FastAPI refuses itself (a bad parameter, an unknown path, a method a route lacks) or fails
on. The relink page answers its customers with HTML pages instead (api/relink_page/)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from shared.errors import (
    ErrorType,
    InvalidParameterError,
    InvalidRequestError,
    RateLimitError,
    RelinkError,
)

log = structlog.get_logger(__name__)
HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}
# Errors and API answers (links, addresses) are about one request: no cache keeps them.
NO_STORE = {"Cache-Control": "no-store"}


class ErrorDetail(BaseModel):
    type: ErrorType = Field(
        description="Stripe's error types: invalid_request_error, authentication_error (a "
        "missing or wrong API key, a webhook signature that does not verify), "
        "rate_limit_error, api_error (relink's side failed; retry)"
    )
    code: str = Field(
        description="stable, machine-readable: unauthorized, forbidden, not_found, "
        "invalid_request, signature_mismatch…"
    )
    message: str = Field(description="for people; its wording may change")
    param: str | None = Field(
        description="the parameter or body field it is about (`a[b]` for nested), or null"
    )


class ErrorBody(BaseModel):
    error: ErrorDetail


def documented(statuses: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses=` for these statuses (with what each means), in the error shape."""
    return {
        status: {"model": ErrorBody, "description": description}
        for status, description in statuses.items()
    }


@lru_cache(maxsize=1024)
def _body(type_: str, code: str, message: str, param: str | None) -> bytes:
    error = {"type": type_, "code": code, "message": message, "param": param}
    return orjson.dumps({"error": error})


def error_body(error: RelinkError) -> bytes:
    """The answer's JSON; each distinct body is rendered once (the receiver's few are
    constants, rendered again for every refused delivery otherwise). A 5xx is logged with
    its traceback: relink's side failed, whether it was expected to or not."""
    if error.http_status >= 500:
        log.error("request_failed", status=error.http_status, code=error.code, exc_info=error)
    return _body(error.type, error.code, error.message, error.param)


def error_response(error: RelinkError, headers: Mapping[str, str] | None = None) -> Response:
    """`error` as its HTTP answer: its status, the shape, no-store, plus `headers`."""
    extra = dict(NO_STORE)
    if error.http_status == 401:  # every credential relink takes is a bearer token
        extra["WWW-Authenticate"] = "Bearer"
    if isinstance(error, RateLimitError):
        extra["Retry-After"] = str(error.retry_after)
    return Response(
        error_body(error),
        error.http_status,
        {**extra, **(headers or {})},
        media_type="application/json",
    )


def param_of(location: Sequence[int | str]) -> str | None:
    """A FastAPI error location as Stripe names a parameter: `("body", "a", 0)` is `a[0]`."""
    path = [str(part) for part in location[1:]]  # the first is query, path, header or body
    return path[0] + "".join(f"[{part}]" for part in path[1:]) if path else None


async def _relink_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RelinkError)
    return error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    message = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
        for problem in problems
    )
    param = param_of(problems[0]["loc"]) if problems else None
    return error_response(InvalidParameterError(message[:1000], param=param))


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    kind = InvalidRequestError if exc.status_code < 500 else RelinkError
    return error_response(kind(str(exc.detail), code, http_status=exc.status_code), exc.headers)


async def _internal_error(_request: Request, _exc: Exception) -> Response:
    """An exception nothing expected: the shape, no detail (the traceback is in the log)."""
    return error_response(RelinkError("relink failed to answer; it is logged", "internal_error"))


def install(app: FastAPI) -> None:
    app.add_exception_handler(RelinkError, _relink_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
