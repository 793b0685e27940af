"""The ASGI application: Stripe's `/v1` surface, the `/_sim` control plane and Stripe.js."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sim import control, hosted, stripejs
from sim.api import StripeApi
from sim.delivery import Deliverer
from sim.errors import unrecognized_url
from sim.state import SimState


def create_app(state: SimState | None = None) -> Starlette:
    """Build the simulator. The webhook thread runs while the app's lifespan does."""
    sim_state = state or SimState()
    api = StripeApi(sim_state)
    deliverer = Deliverer(sim_state)
    ctl = control.Control(sim_state, deliverer, api.limiter)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def not_found(request: Request) -> Response:
        error = unrecognized_url(request.method, request.url.path)
        return JSONResponse(error.envelope(), error.status)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        deliverer.start()
        try:
            yield
        finally:
            deliverer.stop()

    app = Starlette(
        routes=[
            Route("/_sim/health", health, methods=["GET"]),
            *control.routes(ctl),
            *stripejs.routes(sim_state),
            *hosted.routes(sim_state),
            Route("/v1/{path:path}", api.__call__, methods=["GET", "POST", "DELETE"]),
            Route("/v2/core/events/{path:path}", api.__call__, methods=["GET"]),
            Route("/{path:path}", not_found, methods=["GET", "POST", "DELETE", "PUT"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"]
            )
        ],
        lifespan=lifespan,
    )
    app.state.sim = sim_state
    app.state.deliverer = deliverer
    return app
