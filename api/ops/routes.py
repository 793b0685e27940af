"""The operations dashboard: /ops (the numbers, api.ops.service), its login and logout, and the
replay button for a dead or failed event (shared.events.replay, as `relink events replay` does), and
the button that enables a disabled platform endpoint (as `relink webhooks enable` does).

Without OPS_TOKEN every /ops route answers 404. A browser without a session is sent to the
login form; a wrong Authorization header gets 401; logins and bearer tokens past
OPS_AUTH_ATTEMPTS_PER_MINUTE for the client's address get 429. Those refusals, and a bad CSRF
token's 403, are the API's JSON error shape (api/errors.py); a wrong token typed into the
login form gets the form again (401). Every answer is no-store, framed by nobody, and runs
only its own scripts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import structlog
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.errors import error_response
from api.ops import auth, service
from api.ops.formatting import FILTERS
from api.ops.settings import ops_settings
from shared.db import session_scope, utcnow
from shared.errors import AuthenticationError, ForbiddenError, NotFoundError, RateLimitError
from shared.events.replay import reset_for_replay
from shared.models import EventStatus
from shared.platform_webhooks import endpoint
from shared.settings import get_settings

log = structlog.get_logger(__name__)
router = APIRouter(include_in_schema=False)  # operators only: not in the public schema
STATIC_DIR = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters.update(FILTERS)
MAX_FORM_BYTES = 4096
PROBLEMS = (EventStatus.DEAD, EventStatus.FAILED)
ENABLE_OUTCOMES = ("enabled", "not disabled")
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(
        request, template, context, status_code=status_code, headers=HEADERS
    )


def _too_many() -> Response:
    return error_response(RateLimitError("too many attempts", retry_after=60), HEADERS)


def _throttled(request: Request) -> Response | None:
    """429 for a request that presents a bearer token once its address has no attempt left."""
    if auth.bearer(request) is None or auth.attempt_allowed(request):
        return None
    return _too_many()


def _refused(request: Request) -> Response:
    """401 for a wrong Authorization header; otherwise the login form."""
    if auth.bearer(request) is not None:
        return error_response(AuthenticationError("the bearer token is not OPS_TOKEN"), HEADERS)
    return RedirectResponse("/ops/login", 303, headers=HEADERS)


def _bad_csrf() -> Response:
    return error_response(ForbiddenError("bad or missing CSRF token"), HEADERS)


async def _form(request: Request) -> dict[str, str] | None:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            return None
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items()}


def _window(days: str | None) -> int:
    return int(days) if days and days.isdigit() and int(days) in service.WINDOWS else 7


def _not_configured() -> Response | None:
    return None if auth.configured_token() else error_response(NotFoundError("not found"), HEADERS)


@router.get("/ops", response_class=HTMLResponse)
async def dashboard(request: Request) -> Response:
    if (missing := _not_configured() or _throttled(request)) is not None:
        return missing
    operator = auth.operator_of(request)
    if operator is None:
        return _refused(request)
    days = _window(request.query_params.get("days"))

    def compute() -> service.Dashboard:
        with session_scope() as db:
            return service.dashboard(db, days, platform_webhooks=get_settings().platform_webhooks)

    board = await run_in_threadpool(compute)
    enabled = request.query_params.get("enabled")
    return render(
        request,
        "dashboard.html",
        board=board,
        windows=service.WINDOWS,
        csrf=operator.csrf,
        replayed=request.query_params.get("replayed", "")[:300],
        enabled=enabled if enabled in ENABLE_OUTCOMES else None,
    )


@router.get("/ops/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return _not_configured() or render(request, "login.html")


@router.post("/ops/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    if (missing := _not_configured()) is not None:
        return missing
    if not auth.attempt_allowed(request):
        return _too_many()
    form = await _form(request)
    if form is None or not auth.token_matches(form.get("token", "")):
        return render(request, "login.html", 401, error=True)
    response = RedirectResponse("/ops", 303, headers=HEADERS)
    response.set_cookie(
        auth.COOKIE,
        auth.new_session_cookie(),
        max_age=int(ops_settings().ops_session_hours * 3600),
        path="/ops",
        httponly=True,
        samesite="strict",
        secure=auth.cookie_is_secure(request),
    )
    return response


@router.post("/ops/logout")
async def logout(request: Request) -> Response:
    """The session ends on the server too: the old cookie, copied or replayed, is refused."""
    operator = auth.operator_of(request)
    if operator is not None:
        await run_in_threadpool(auth.end_session, operator)
    response = RedirectResponse("/ops/login", 303, headers=HEADERS)
    response.delete_cookie(auth.COOKIE, path="/ops")
    return response


@router.post("/ops/events/{event_id}/replay")
async def replay(request: Request, event_id: str) -> Response:
    """The replay button: the event back to `received` and queued, once per press."""
    if (missing := _not_configured() or _throttled(request)) is not None:
        return missing
    operator = auth.operator_of(request)
    if operator is None:
        return _refused(request)
    form = await _form(request)
    if form is None or not auth.csrf_matches(operator, form.get("csrf", "")):
        return _bad_csrf()
    if not event_id.isprintable():  # no event id has a control character (NUL fails PostgreSQL)
        return error_response(NotFoundError("no such event"), HEADERS)
    outcome = await run_in_threadpool(
        reset_for_replay, event_id[:255], force=False, replayable=PROBLEMS
    )
    days = _window(form.get("days"))
    query = urlencode({"days": days, "replayed": f"{outcome.id}: {outcome.outcome}"})
    return RedirectResponse(f"/ops?{query}", 303, headers=HEADERS)


def _enable_endpoint() -> list[int] | None:
    with session_scope() as db:
        return endpoint.enable(db, now=utcnow())


@router.post("/ops/webhooks/enable")
async def enable_webhooks(request: Request) -> Response:
    """The enable button: a disabled platform endpoint enabled, its held deliveries queued in
    order; a second press finds it enabled and changes nothing."""
    if (missing := _not_configured() or _throttled(request)) is not None:
        return missing
    operator = auth.operator_of(request)
    if operator is None:
        return _refused(request)
    form = await _form(request)
    if form is None or not auth.csrf_matches(operator, form.get("csrf", "")):
        return _bad_csrf()
    released = await run_in_threadpool(_enable_endpoint)
    if released is not None:
        log.warning("platform_endpoint_enabled", by="ops", released=len(released))
    outcome = "not disabled" if released is None else "enabled"
    query = urlencode({"days": _window(form.get("days")), "enabled": outcome})
    return RedirectResponse(f"/ops?{query}", 303, headers=HEADERS)
