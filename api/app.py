"""The FastAPI application."""

from __future__ import annotations

import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import health, metrics, platform_webhooks
from api.errors import Rejected, rejected_handler
from api.ops import routes as ops
from api.ops.settings import ops_settings
from api.platform_api import errors as platform_errors
from api.platform_api import routes as platform_api
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
    settings.signing_keys()  # a missing LINK_SIGNING_KEYS stops start-up here
    ops_settings()  # and a short OPS_TOKEN
    if not settings.stripe_webhook_secrets:
        log.error("STRIPE_WEBHOOK_SECRETS is not set: /webhooks/stripe answers 503")
    docs = settings.expose_docs  # the schema maps every route: shown only when asked for
    app = FastAPI(
        title="relink",
        version="0.1.0",
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.inbox_writer = InboxWriter()
    app.add_exception_handler(Rejected, rejected_handler)
    app.include_router(webhooks.router)
    app.include_router(health.router)
    app.include_router(relink.router)
    app.include_router(ops.router)
    app.include_router(platform_api.router)
    platform_errors.install(app)
    platform_webhooks.document(app)
    app.mount(
        "/static",
        StaticFiles(directory=relink.STATIC_DIR),
        name="static",
    )
    app.mount("/ops/static", StaticFiles(directory=ops.STATIC_DIR), name="ops_static")
    if settings.metrics_enabled:
        app.mount("/metrics", metrics.metrics_app(settings))
    return app
