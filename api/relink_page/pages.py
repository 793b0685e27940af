"""The relink page's HTML: one template per outcome, and the headers every page carries.

Every page here is `no-store`, sends no referrer (the path carries the link's token), cannot
be framed, and may load scripts, frames and connections only from itself and Stripe.js; with
RELINK_UI=stripe_hosted only from itself, and its forms may lead to Stripe's hosted page.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import select_autoescape
from prometheus_client import Counter

from api.relink_page import outcomes as o
from shared.branding import template_loader
from shared.i18n import i18n_environment, translations
from shared.settings import Settings, get_settings

PAGES = Counter("relink_pages", "Relink pages served", ["page"])

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


def hosted_page_origins(settings: Settings) -> list[str]:
    """Where a hosted session's `url` may lead the button's POST (CSP `form-action` covers its
    redirect): Stripe's domains, or the origin of any other STRIPE_API_BASE (the simulator)."""
    api = origin_of(settings.stripe_api_base)
    return ["https://*.stripe.com"] if api == "https://api.stripe.com" else [api]


def content_security_policy(settings: Settings) -> str:
    hosted = settings.stripe_hosted
    stripe = [] if hosted else [origin_of(settings.stripe_js_url)]
    extra = {} if hosted else STRIPE_EXTRA.get(stripe[0], {})
    logo = [origin_of(settings.brand_logo_url)] if settings.brand_logo_url else []
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *stripe],
        "frame-src": [*stripe, *extra.get("frame-src", [])] or ["'none'"],
        "connect-src": ["'self'", *stripe, *extra.get("connect-src", [])],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *logo],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'", *(hosted_page_origins(settings) if hosted else [])],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


@lru_cache(maxsize=8)
def templates(templates_dir: Path | None, locale: str) -> Jinja2Templates:
    """The page's templates in `locale`: TEMPLATES_DIR/`locale`/relink_page/, then
    TEMPLATES_DIR/relink_page/, then the built-ins."""
    loader = template_loader("api.relink_page", "relink_page", templates_dir, locale)
    return Jinja2Templates(env=i18n_environment(loader, locale, autoescape=select_autoescape()))


def brand_stylesheet(settings: Settings) -> str:
    """/brand.css: BRAND_COLOR (validated #rrggbb) as relink.css's accent, served from the
    page's own origin so the Content-Security-Policy needs no inline style."""
    brand = settings.brand
    if brand.color is None:
        return ""
    return f":root {{ --accent: {brand.color}; --on-accent: {brand.on_color}; }}\n"


def page_headers(settings: Settings) -> dict[str, str]:
    return {
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": content_security_policy(settings),
    }


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    settings = get_settings()
    PAGES.labels(page=template.removesuffix(".html")).inc()
    # The link's customer's language (routes.guarded), DEFAULT_LOCALE before a link is read.
    locale = getattr(request.state, "locale", settings.default_locale)
    bank = context.get("bank")
    if isinstance(bank, o.Bank) and bank.institution is None:
        _ = translations(locale).gettext
        context["bank"] = replace(bank, institution=_("your bank"))
    return templates(settings.templates_dir, locale).TemplateResponse(
        request,
        template,
        {
            "brand": settings.brand,
            "stripe_js_url": settings.stripe_js_url,
            "publishable_key": settings.stripe_publishable_key or "",
            **context,
        },
        status_code=status_code,
        headers={**page_headers(settings), "Content-Language": locale, **(headers or {})},
    )


def failed(request: Request, token: str, status_code: int, reason: str = "unknown") -> HTMLResponse:
    return render(request, "failed.html", status_code, reason=reason, retry_url=f"/relink/{token}")


def busy(request: Request, token: str, retry_after: int) -> HTMLResponse:
    """503 with Retry-After: this case, or the page's Stripe budget, is spent for now."""
    headers = {"Retry-After": str(retry_after)}
    return render(
        request, "unavailable.html", 503, headers, reason="busy", retry_url=f"/relink/{token}"
    )


def render_outcome(request: Request, token: str, outcome: o.Outcome) -> Response:
    base = f"/relink/{token}"
    hosted = get_settings().stripe_hosted
    match outcome:
        case o.Reconnected(bank):
            return render(request, "reconnected.html", bank=bank)
        case o.PaymentMethodSaved(bank):
            return render(request, "saved.html", bank=bank)
        case o.Unrepairable(bank):
            return render(request, "unrepairable.html", bank=bank)
        case o.Start(bank, mode):
            session_url = f"{base}/hosted" if hosted else f"{base}/session"
            return render(request, "start.html", bank=bank, mode=mode, session_url=session_url)
        case o.Collect(bank, session_id, client_secret, mode, stripe_account):
            return render(
                request,
                "collect.html",
                bank=bank,
                mode=mode,
                session_id=session_id,
                client_secret=client_secret,
                stripe_account=stripe_account,
                complete_url=f"{base}/complete",
            )
        case o.Failed(bank, reason):
            return render(request, "failed.html", bank=bank, reason=reason, retry_url=base)
        case o.NewAccount(bank, session_id, name):
            return render(
                request,
                "new_account.html",
                bank=bank,
                session_id=session_id,
                name=name or "",
                hosted=hosted,  # the mandate is accepted here, not through Stripe.js
                setup_url=f"{base}/hosted/setup" if hosted else f"{base}/setup",
            )
        case o.Redirect(url):
            return RedirectResponse(url, 303, headers=page_headers(get_settings()))
        case o.ConfirmSetup(bank, setup_intent_id, client_secret, name, stripe_account):
            return render(
                request,
                "confirm.html",
                bank=bank,
                name=name,
                setup_intent_id=setup_intent_id,
                client_secret=client_secret,
                stripe_account=stripe_account,
                complete_url=f"{base}/setup/complete",
                retry_url=base,
            )
        case o.FreshLink(sent, daily_cap):
            return render(request, "fresh_link.html", sent=sent, daily_cap=daily_cap)
    raise AssertionError(f"no page for {outcome!r}")
