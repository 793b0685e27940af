"""The relink page's routes: thin edges over api.relink_page.service and .setup.

Each request is checked in order of cost: the link's token first (nothing else is looked at
for a bad one), then the body (refused past MAX_FORM_BYTES, by its Content-Length or while it
streams, never read whole first), then the form's ids; only then does the step run, in a
worker thread. GET and HEAD show the link's page and change nothing (but the time a GET first
opened it, for the dashboard): mail scanners open every link; the page's button
(POST …/session) is what opens a Financial Connections session.

RELINK_UI picks the routes that answer: `embedded` the Stripe.js ones (…/session, …/complete,
…/setup, …/setup/complete), `stripe_hosted` the hosted ones (POST …/hosted redirects to the
session's hosted page, GET …/return is where Stripe sends the customer back, POST
…/hosted/setup saves a new account with the mandate accepted on relink's page); the other
mode's routes answer 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote

import orjson
import structlog
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.bodies import BodyTooLarge, read_body
from api.errors import documented
from api.relink_page import outcomes, service, setup
from api.relink_page.fc_sessions import online_acceptance
from api.relink_page.language import page_locale
from api.relink_page.pages import (
    brand_stylesheet,
    busy,
    failed,
    page_headers,
    render,
    render_outcome,
)
from shared.cases.links import LinkError, LinkPayload, read_link, read_link_at
from shared.settings import get_settings
from shared.settings.page import RelinkUi
from shared.stripe_client import StripeNotConfigured

# The pages answer HTML; only a request FastAPI itself refuses would get the JSON shape.
router = APIRouter(responses=documented({422: "a parameter FastAPI cannot read"}))
STATIC_DIR = Path(__file__).parent / "static"
MAX_FORM_BYTES = 16 * 1024
DAY = 24 * 3600
# Stripe ids are a prefix and ASCII letters/digits; anything else (a NUL byte, say, that
# PostgreSQL refuses in text) is not an id we issued and never reaches the database.
STRIPE_ID = re.compile(r"(fcsess|seti)_[A-Za-z0-9]{1,255}")

Fields = dict[str, str]
Step = Callable[..., outcomes.Outcome]


def is_stripe_id(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and STRIPE_ID.fullmatch(value) is not None


def parse_fields(body: bytes, content_type: str) -> Fields:
    """A small form or JSON body as strings; anything else is an empty dict."""
    if content_type.startswith("application/json"):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
        )
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items()}


def well_formed(payload: LinkPayload) -> bool:
    """Whether a genuinely signed payload has the types a link carries (an id the database can
    look up); anything else is treated as a tampered link."""
    return (
        type(payload.case_id) is int
        and 0 < payload.case_id < 2**63
        and isinstance(payload.account_id, str)
        and isinstance(payload.authorization_id, str)
    )


def may_ask_fresh(token: str) -> bool:
    """An expired link may ask for a fresh one up to FRESH_LINK_MAX_EXPIRED_DAYS past its
    expiry: an old email found later mints nothing."""
    settings = get_settings()
    grace = int(settings.fresh_link_max_expired_days * DAY)
    longer = settings.model_copy(update={"link_max_age": settings.link_max_age + grace})
    try:
        read_link(token, longer)
    except LinkError:
        return False
    return True


async def guarded(
    request: Request,
    token: str,
    step: Step,
    form: Callable[[Fields], tuple[object, ...] | None] = lambda _: (),
    *,
    allow_expired: bool = False,
    ui: RelinkUi | None = None,
) -> Response:
    """Read the link, then the body and its fields, run one step, and map every domain
    failure to a page. A step of one RELINK_UI (`ui`) is a 404 in the other."""
    try:
        payload, signed_at = read_link_at(token)
        expired = False
    except LinkError as exc:
        if not exc.expired or exc.payload is None or exc.signed_at is None:
            return render(request, "invalid.html", 400)
        payload, signed_at, expired = exc.payload, exc.signed_at, True
    if not well_formed(payload):
        return render(request, "invalid.html", 400)
    if expired:
        request.state.locale = await run_in_threadpool(page_locale, payload)
        if await run_in_threadpool(service.link_revoked, payload, signed_at):
            return render(request, "expired.html", 410, fresh_url=None)
        fresh = may_ask_fresh(token)
        if not (allow_expired and fresh):
            fresh_url = f"/relink/{token}/fresh" if fresh else None
            return render(request, "expired.html", 410, fresh_url=fresh_url)
    if ui is not None and ui != get_settings().relink_ui:
        return failed(request, token, 404)
    # this request's logs carry the case (each request runs in a context of its own)
    structlog.contextvars.bind_contextvars(
        case_id=payload.case_id, authorization_id=payload.authorization_id
    )
    fields: Fields = {}
    if request.method == "POST":
        try:
            body = await read_body(request, MAX_FORM_BYTES)
        except BodyTooLarge:
            return failed(request, token, 413, "too_large")
        fields = parse_fields(body, request.headers.get("content-type", ""))
    args = form(fields)
    if args is None:
        return failed(request, token, 400)
    # The customer's language; the pages above (a bad body) come before any database read
    # and speak DEFAULT_LOCALE.
    if not expired:
        request.state.locale = await run_in_threadpool(page_locale, payload)
    if not expired and await run_in_threadpool(service.link_revoked, payload, signed_at):
        return render(request, "expired.html", 410, fresh_url=None)
    try:
        outcome = await run_in_threadpool(step, payload, *args)
    except outcomes.UnknownCase:
        return render(request, "invalid.html", 404)
    except outcomes.UnknownSession:
        return failed(request, token, 400)
    except outcomes.Busy as exc:
        return busy(request, token, exc.retry_after)
    except (outcomes.StripeUnavailable, StripeNotConfigured):
        return render(request, "unavailable.html", 503, retry_url=f"/relink/{token}")
    return render_outcome(request, token, outcome)


def session_id_field(fields: Fields) -> tuple[str, ...] | None:
    session_id = fields.get("session_id", "")
    return (session_id,) if is_stripe_id(session_id, "fcsess") else None


def setup_fields(fields: Fields) -> tuple[str, ...] | None:
    name = " ".join(fields.get("name", "").split())[:200]
    found = session_id_field(fields)
    return (*found, name) if found and name else None


def setup_intent_field(fields: Fields) -> tuple[str, ...] | None:
    setup_intent_id = fields.get("setup_intent", "")
    return (setup_intent_id,) if is_stripe_id(setup_intent_id, "seti") else None


@router.get("/brand.css", include_in_schema=False)
async def brand_css() -> Response:
    """BRAND_COLOR as a stylesheet the pages link (empty when unset)."""
    headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
    return Response(brand_stylesheet(get_settings()), media_type="text/css", headers=headers)


@router.get("/relink/{token}", response_class=HTMLResponse)
async def relink_page(request: Request, token: str) -> Response:
    """The link's page from what is stored: no Stripe call, no write."""
    return await guarded(request, token, service.show)


# HEAD (scanners) is GET without the body; one operation in the OpenAPI schema.
router.add_api_route("/relink/{token}", relink_page, methods=["HEAD"], include_in_schema=False)


@router.get("/relink/{token}/", include_in_schema=False)
async def relink_page_slash(token: str) -> Response:
    """A trailing slash: back to the page by a relative, uncached redirect (Starlette's own
    would be absolute, built from the Host header, and cacheable, with the token in it)."""
    headers = {**page_headers(get_settings()), "Location": f"/relink/{quote(token, safe='')}"}
    return Response(status_code=308, headers=headers)


@router.post("/relink/{token}/opened", response_class=HTMLResponse)
async def relink_opened(request: Request, token: str) -> Response:
    """The start page's script says a browser opened the link (the funnel's first step)."""
    return await guarded(request, token, service.record_opened)


@router.post("/relink/{token}/session", response_class=HTMLResponse)
async def relink_session(request: Request, token: str) -> Response:
    """The button: the page that runs Stripe.js on the case's open session (its client
    secret in this answer's body only)."""
    return await guarded(request, token, service.open_fc_session, ui="embedded")


@router.post("/relink/{token}/complete", response_class=HTMLResponse)
async def relink_complete(request: Request, token: str) -> Response:
    return await guarded(request, token, service.complete_relink, session_id_field, ui="embedded")


@router.post("/relink/{token}/setup", response_class=HTMLResponse)
async def relink_setup(request: Request, token: str) -> Response:
    return await guarded(request, token, setup.create_setup, setup_fields, ui="embedded")


@router.post("/relink/{token}/setup/complete", response_class=HTMLResponse)
async def relink_setup_complete(request: Request, token: str) -> Response:
    return await guarded(request, token, setup.complete_setup, setup_intent_field, ui="embedded")


# RELINK_UI=stripe_hosted


@router.post("/relink/{token}/hosted", response_class=HTMLResponse)
async def relink_hosted(request: Request, token: str) -> Response:
    """The button: a 303 to the case's open session's hosted page (no client secret on any
    page of relink's), which sends the customer back to GET …/return."""
    return_url = f"{get_settings().public_base_url.rstrip('/')}/relink/{token}/return"
    return await guarded(
        request, token, service.open_fc_session, lambda _: (return_url,), ui="stripe_hosted"
    )


@router.get("/relink/{token}/return", response_class=HTMLResponse)
async def relink_return(request: Request, token: str) -> Response:
    """Back from Stripe's hosted page: the query is ignored, the stored session read back."""
    return await guarded(request, token, service.complete_returned, ui="stripe_hosted")


@router.post("/relink/{token}/hosted/setup", response_class=HTMLResponse)
async def relink_hosted_setup(request: Request, token: str) -> Response:
    """A new account's name and the mandate accepted on this page (the `accept` box): the
    SetupIntent is confirmed with this request's IP address and user agent."""

    def accepted(fields: Fields) -> tuple[object, ...] | None:
        found = setup_fields(fields)
        if found is None or fields.get("accept") != "yes" or request.client is None:
            return None
        agent = request.headers.get("user-agent", "")[:500] or "unknown"
        return (*found, online_acceptance(request.client.host, agent))

    return await guarded(request, token, setup.create_setup, accepted, ui="stripe_hosted")


@router.post("/relink/{token}/fresh", response_class=HTMLResponse)
async def relink_fresh_link(request: Request, token: str) -> Response:
    """Email a fresh link to the address on file. The (expired but genuine) token is the
    capability; nothing in the request body is used."""
    return await guarded(request, token, service.request_fresh_link, allow_expired=True)
