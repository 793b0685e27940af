"""The FastAPI application."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors, health, metrics, platform_webhooks
from api.ops import routes as ops
from api.ops.settings import ops_settings
from api.platform_api import deliveries as platform_deliveries
from api.platform_api import revenue
from api.platform_api import routes as platform_api
from api.relink_page import routes as relink
from api.webhooks import routes as webhooks
from api.webhooks.inbox_writer import InboxWriter
from api.webhooks.receiver import WebhookReceiver
from shared.db import get_engine
from shared.logging import configure_logging
from shared.ratelimit import require_shared_limiter
from shared.schema_compat import require_compatible_schema
from shared.settings import get_settings

log = structlog.get_logger(__name__)


@asynccontextmanager
async def _frozen_startup_heap(_app: FastAPI) -> AsyncIterator[None]:
    """Move the ~150,000 objects alive after start-up (modules, classes, the Stripe SDK) out of
    the collector's reach: every full collection walked them, a 72-93 ms pause every few
    seconds under load that was the receiver's p99 (benchmarks/receiver.py, docs/performance.md)."""
    gc.collect()
    gc.freeze()
    yield


def create_app() -> FastAPI:
    configure_logging()
    settings = get_settings()  # fails at start-up, naming the bad variable
    require_shared_limiter(settings)
    settings.signing_keys()  # a missing LINK_SIGNING_KEYS stops start-up here
    ops_settings()  # and a short OPS_TOKEN
    require_compatible_schema(get_engine())  # and a database this release does not run on
    if not settings.stripe_webhook_secrets:
        log.error("STRIPE_WEBHOOK_SECRETS is not set: /webhooks/stripe answers 503")
    docs = settings.expose_docs  # the schema maps every route: shown only when asked for
    app = FastAPI(
        title="relink",
        version="0.1.0",
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        lifespan=_frozen_startup_heap,
    )
    app.state.inbox_writer = InboxWriter()
    app.add_middleware(WebhookReceiver, writer=app.state.inbox_writer)
    app.include_router(webhooks.router)
    app.include_router(health.router)
    app.include_router(relink.router)
    app.include_router(ops.router)
    app.include_router(platform_api.router)
    app.include_router(platform_deliveries.router)
    app.include_router(revenue.router)
    errors.install(app)
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
