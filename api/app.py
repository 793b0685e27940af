"""The FastAPI application."""

from __future__ import annotations

import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import make_asgi_app

from api import health
from api.errors import Rejected, rejected_handler
from api.relink_page import routes as relink
from api.webhooks import routes as webhooks
from api.webhooks.inbox_writer import InboxWriter
from shared.logging import configure_logging
from shared.ratelimit import require_shared_limiter
from shared.settings import get_settings

log = structlog.get_logger(__name__)


def create_app() -> FastAPI:
    configure_logging()
    settings = get_settings()  # fails at start-up, naming the bad variable
    require_shared_limiter(settings)
    if not settings.stripe_webhook_secrets:
        log.error("STRIPE_WEBHOOK_SECRETS is not set: /webhooks/stripe answers 503")
    app = FastAPI(title="relink", version="0.1.0")
    app.state.inbox_writer = InboxWriter()
    app.add_exception_handler(Rejected, rejected_handler)
    app.include_router(webhooks.router)
    app.include_router(health.router)
    app.include_router(relink.router)
    app.mount(
        "/static",
        StaticFiles(directory=relink.STATIC_DIR),
        name="static",
    )
    app.mount("/metrics", make_asgi_app())
    return app
