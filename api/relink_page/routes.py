"""The relink page: thin routes over api.relink_page.service, HTML for people, strict headers.

Every page here is `no-store`, sends no referrer (the path carries the link's token), cannot
be framed, and may load scripts, frames and connections only from itself and Stripe.js.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import structlog
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from prometheus_client import Counter

from api.relink_page import outcomes, service
from shared.db import session_scope
from shared.links import LinkError, LinkPayload, read_link
from shared.settings import Settings, get_settings
from shared.stripe_client import StripeNotConfigured

log = structlog.get_logger(__name__)
router = APIRouter()
STATIC_DIR = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
PAGES = Counter("relink_pages", "Relink pages served", ["page"])
MAX_FORM_BYTES = 16 * 1024
# Stripe ids are a prefix and ASCII letters/digits; anything else (a NUL byte, say, that
# PostgreSQL refuses in text) is not an id we issued and never reaches the database.
STRIPE_ID = re.compile(r"(fcsess|seti)_[A-Za-z0-9]{1,255}")


def is_stripe_id(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and STRIPE_ID.fullmatch(value) is not None


# Stripe's own CSP guidance for js.stripe.com: it also talks to api.stripe.com and frames
# hooks.stripe.com. Other Stripe.js origins (the simulator) serve everything themselves.
STRIPE_EXTRA = {
    "https://js.stripe.com": {
        "connect-src": ["https://api.stripe.com"],
        "frame-src": ["https://hooks.stripe.com"],
    }
}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    stripe = origin_of(settings.stripe_js_url)
    extra = STRIPE_EXTRA.get(stripe, {})
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", stripe],
        "frame-src": [stripe, *extra.get("frame-src", [])],
        "connect-src": ["'self'", stripe, *extra.get("connect-src", [])],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def page_headers(settings: Settings) -> dict[str, str]:
    return {
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": content_security_policy(settings),
    }


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    settings = get_settings()
    PAGES.labels(page=template.removesuffix(".html")).inc()
    return templates.TemplateResponse(
        request,
        template,
        {
            "stripe_js_url": settings.stripe_js_url,
            "publishable_key": settings.stripe_publishable_key or "",
            **context,
        },
        status_code=status_code,
        headers=page_headers(settings),
    )


def render_outcome(request: Request, token: str, outcome: outcomes.Outcome) -> HTMLResponse:
    base = f"/relink/{token}"
    match outcome:
        case outcomes.Reconnected(bank):
            return render(request, "reconnected.html", bank=bank)
        case outcomes.PaymentMethodSaved(bank):
            return render(request, "saved.html", bank=bank)
        case outcomes.Unrepairable(bank):
            return render(request, "unrepairable.html", bank=bank)
        case outcomes.Collect(bank, session_id, client_secret, mode):
            return render(
                request,
                "collect.html",
                bank=bank,
                mode=mode,
                session_id=session_id,
                client_secret=client_secret,
                complete_url=f"{base}/complete",
            )
        case outcomes.Failed(bank, reason):
            status = 200
            return render(request, "failed.html", status, bank=bank, reason=reason, retry_url=base)
        case outcomes.NewAccount(bank, session_id, name):
            return render(
                request,
                "new_account.html",
                bank=bank,
                session_id=session_id,
                name=name or "",
                setup_url=f"{base}/setup",
            )
        case outcomes.ConfirmSetup(bank, setup_intent_id, client_secret, name):
            return render(
                request,
                "confirm.html",
                bank=bank,
                name=name,
                setup_intent_id=setup_intent_id,
                client_secret=client_secret,
                complete_url=f"{base}/setup/complete",
                retry_url=base,
            )
        case outcomes.FreshLink(sent):
            return render(request, "fresh_link.html", sent=sent)
    raise AssertionError(f"no page for {outcome!r}")


async def read_fields(request: Request) -> dict[str, str]:
    """A small form or JSON body as strings; anything else is an empty dict."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
        )
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items()}


def run_flow(
    step: Callable[..., outcomes.Outcome], payload: LinkPayload, *args: str
) -> outcomes.Outcome:
    """One unit of work; the tasks it publishes go out only after the commit."""
    with session_scope() as db:
        return step(db, payload, *args)


def well_formed(payload: LinkPayload) -> bool:
    """Whether a genuinely signed payload has the types a link carries (an id the database can
    look up); anything else is treated as a tampered link."""
    return (
        type(payload.case_id) is int
        and 0 < payload.case_id < 2**63
        and isinstance(payload.account_id, str)
        and isinstance(payload.authorization_id, str)
    )


async def guarded(
    request: Request,
    token: str,
    step: Callable[..., outcomes.Outcome],
    *args: str,
    allow_expired: bool = False,
) -> HTMLResponse:
    """Read the link, run one step, and map every domain failure to a page."""
    try:
        payload = read_link(token)
    except LinkError as exc:
        if exc.expired and exc.payload is not None:
            if allow_expired:
                payload = exc.payload
            else:
                return render(request, "expired.html", 410, fresh_url=f"/relink/{token}/fresh")
        else:
            return render(request, "invalid.html", 400)
    if not well_formed(payload):
        return render(request, "invalid.html", 400)
    try:
        outcome = await run_in_threadpool(run_flow, step, payload, *args)
    except outcomes.UnknownCase:
        return render(request, "invalid.html", 404)
    except outcomes.UnknownSession:
        return render(request, "failed.html", 400, reason="unknown", retry_url=f"/relink/{token}")
    except (outcomes.StripeUnavailable, StripeNotConfigured):
        return render(request, "unavailable.html", 503, retry_url=f"/relink/{token}")
    return render_outcome(request, token, outcome)


@router.get("/relink/{token}", response_class=HTMLResponse)
async def relink_page(request: Request, token: str) -> HTMLResponse:
    return await guarded(request, token, service.open_relink)


@router.post("/relink/{token}/complete", response_class=HTMLResponse)
async def relink_complete(request: Request, token: str) -> HTMLResponse:
    session_id = (await read_fields(request)).get("session_id", "")
    if not is_stripe_id(session_id, "fcsess"):
        return render(request, "failed.html", 400, reason="unknown", retry_url=f"/relink/{token}")
    return await guarded(request, token, service.complete_relink, session_id)


@router.post("/relink/{token}/setup", response_class=HTMLResponse)
async def relink_setup(request: Request, token: str) -> HTMLResponse:
    fields = await read_fields(request)
    session_id = fields.get("session_id", "")
    name = " ".join(fields.get("name", "").split())[:200]
    if not is_stripe_id(session_id, "fcsess") or not name:
        return render(request, "failed.html", 400, reason="unknown", retry_url=f"/relink/{token}")
    return await guarded(request, token, _create_setup, session_id, name)


def _create_setup(db: Any, payload: LinkPayload, session_id: str, name: str) -> outcomes.Outcome:
    return service.create_setup(db, payload, session_id, name)


@router.post("/relink/{token}/setup/complete", response_class=HTMLResponse)
async def relink_setup_complete(request: Request, token: str) -> HTMLResponse:
    setup_intent_id = (await read_fields(request)).get("setup_intent", "")
    if not is_stripe_id(setup_intent_id, "seti"):
        return render(request, "failed.html", 400, reason="unknown", retry_url=f"/relink/{token}")
    return await guarded(request, token, service.complete_setup, setup_intent_id)


@router.post("/relink/{token}/fresh", response_class=HTMLResponse)
async def relink_fresh_link(request: Request, token: str) -> HTMLResponse:
    """Email a fresh link to the address on file. The (expired but genuine) token is the
    capability; nothing in the request body is read."""
    return await guarded(request, token, service.request_fresh_link, allow_expired=True)
