"""Stripe's hosted page for a session created with `ui_mode=hosted`: `GET /_sim/hosted/{id}`
(the session's `url`) shows the bank step, and its button finishes the session with the
scenario set through `/_sim/sessions/{id}/scenario` (as the fake Stripe.js does), then sends
the browser to the session's `return_url` with a 303."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sim import stripejs
from sim.state import Session, SimState

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stripe (simulated) · {institution}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto">
<p>Stripe Financial Connections · simulated hosted page</p>
<h1>Sign in to {institution}</h1>
{error}
<form method="post"><button type="submit">Continue to {institution}</button></form>
</body></html>"""


def _institution(state: SimState, record: Session) -> str:
    auth = state.authorizations.get(record.relink_authorization or "")
    return auth.institution_name if auth else str(record.scenario.get("institution", "StripeBank"))


def _page(state: SimState, record: Session, error: str = "", status: int = 200) -> Response:
    shown = f'<p role="alert">{escape(error)}</p>' if error else ""
    name = escape(_institution(state, record))
    return HTMLResponse(PAGE.format(institution=name, error=shown), status)


def _hosted_session(state: SimState, request: Request) -> Session | Response:
    """The hosted session the path names, or the page saying there is none. Lock held."""
    record = state.sessions.get(request.path_params["id"])
    if record is None or record.ui_mode != "hosted" or record.return_url is None:
        return HTMLResponse("No such hosted session.", 404)
    return record


def routes(state: SimState) -> list[Route]:
    async def show(request: Request) -> Response:
        with state.lock:
            record = _hosted_session(state, request)
            if isinstance(record, Response):
                return record
            if record.status != "pending":  # finished already: straight back
                return RedirectResponse(str(record.return_url), 303)
            return _page(state, record)

    async def finish(request: Request) -> Response:
        with state.lock:
            record = _hosted_session(state, request)
            if isinstance(record, Response):
                return record
            if record.status == "pending":
                failure = stripejs.play(state, record)
                if failure is not None:
                    return _page(state, record, failure["error"]["message"], 502)
            return RedirectResponse(str(record.return_url), 303)

    return [
        Route("/_sim/hosted/{id}", show, methods=["GET"]),
        Route("/_sim/hosted/{id}", finish, methods=["POST"]),
    ]
