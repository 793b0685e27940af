"""A fake Stripe.js: `Stripe(pk[, {stripeAccount, locale}])` (its requests carry the locale,
for a test to read) with `collectFinancialConnectionsAccounts` and
`confirmUsBankAccountSetup`, backed by the simulator so a real browser can relink."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sim import objects, resources, scenarios
from sim.errors import StripeError
from sim.state import Session, SimState
from sim.versions import PREVIEW_DEFAULT

SCRIPT = r"""(function () {
  "use strict";
  var script = document.currentScript;
  var base = script && script.src ? new URL(script.src).origin : "";

  function post(path, body) {
    return fetch(base + path, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body)
    }).then(function (response) { return response.json(); })
      .catch(function (err) {
        return {error: {type: "api_connection_error", message: String(err)}};
      });
  }

  function Stripe(publishableKey, options) {
    if (typeof publishableKey !== "string" || publishableKey.indexOf("pk_") !== 0) {
      throw new Error("Invalid value for Stripe(): apiKey should be a publishable key.");
    }
    var account = (options && options.stripeAccount) || null;
    var locale = (options && options.locale) || "auto";
    return {
      collectFinancialConnectionsAccounts: function (options) {
        return post("/_sim/stripejs/collect", {
          client_secret: options && options.clientSecret, stripe_account: account,
          locale: locale
        });
      },
      confirmUsBankAccountSetup: function (clientSecret, data) {
        return post("/_sim/stripejs/confirm_setup", {
          client_secret: clientSecret, stripe_account: account, locale: locale
        });
      }
    };
  }

  Stripe.simulated = true;
  window.Stripe = Stripe;
})();
"""


def _error(type_: str, message: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type_, "message": message}
    if code:
        error["code"] = code
    return {"error": error}


def play(state: SimState, record: Session) -> dict[str, Any] | None:
    """Finish the session with its configured scenario (the customer at the bank, through
    Stripe.js or on the hosted page); an error envelope when it cannot. Lock held."""
    scenario = record.scenario
    outcome = scenario.get("outcome", "success")
    if outcome == "error":
        return _error(
            scenario.get("error_type", "api_error"),
            scenario.get("message", "An unknown error occurred"),
        )
    if record.status != "pending":
        return _error(
            "invalid_request_error",
            "This Financial Connections session has already been completed.",
        )
    try:
        scenarios.complete_session(
            state,
            record.id,
            outcome,
            scenario.get("accounts"),
            scenario.get("new_accounts"),
            scenario.get("institution", "StripeBank"),
        )
    except StripeError as exc:
        return _error(exc.type, exc.message, exc.code)
    return None


def collect(
    state: SimState, client_secret: str | None, stripe_account: str | None = None
) -> dict[str, Any]:
    """Run the session's configured scenario, resolving as Stripe.js does; a connected
    account's session is found only with its `stripeAccount`."""
    with state.acting_as(stripe_account):
        record = next(
            (s for s in state.sessions.values() if s.client_secret == client_secret), None
        )
        if record is None:
            return _error(
                "invalid_request_error",
                "No such financial connections session client secret.",
                "resource_missing",
            )
        failure = play(state, record)
        if failure is not None:
            return failure
        session = resources.render_session(state, record, PREVIEW_DEFAULT)
        return {
            "financialConnectionsSession": {
                "id": session["id"],
                "object": session["object"],
                "accounts": session["accounts"]["data"],
                "permissions": session["permissions"],
                "livemode": False,
            }
        }


def confirm_setup(
    state: SimState, client_secret: str | None, stripe_account: str | None = None
) -> dict[str, Any]:
    with state.acting_as(stripe_account):
        record = next(
            (s for s in state.setup_intents.values() if s.client_secret == client_secret), None
        )
        if record is None:
            return _error(
                "invalid_request_error", "No such setupintent client secret.", "resource_missing"
            )
        if record.payment_method is None:
            return _error(
                "invalid_request_error",
                "This SetupIntent has no payment method to confirm.",
                "setup_intent_unexpected_state",
            )
        resources.confirm_setup_intent(state, record)
        return {"setupIntent": objects.setup_intent(record)}


def routes(state: SimState) -> list[Route]:
    async def script(request: Request) -> Response:
        return Response(SCRIPT, media_type="application/javascript")

    async def collect_endpoint(request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        return JSONResponse(collect(state, body.get("client_secret"), body.get("stripe_account")))

    async def confirm_endpoint(request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        secret, account = body.get("client_secret"), body.get("stripe_account")
        return JSONResponse(confirm_setup(state, secret, account))

    return [
        Route("/_sim/stripe.js", script, methods=["GET"]),
        Route("/_sim/stripejs/collect", collect_endpoint, methods=["POST"]),
        Route("/_sim/stripejs/confirm_setup", confirm_endpoint, methods=["POST"]),
    ]
