"""The fake Stripe.js, driven from a page on another origin in headless Chromium."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe
from playwright.sync_api import Browser, Page

from sim.testing import SimServer
from tests.browser import chromium
from tests.sim.conftest import PREVIEW

PAGE = """<!doctype html>
<html><head><script src="{sim}/_sim/stripe.js"></script></head>
<body><script>
  window.relink = async function (sessionSecret, setupSecret) {{
    const stripe = Stripe("pk_test_sim");
    const collected = await stripe.collectFinancialConnectionsAccounts({{
      clientSecret: sessionSecret
    }});
    const confirmed = setupSecret ? await stripe.confirmUsBankAccountSetup(setupSecret) : null;
    return {{collected, confirmed}};
  }};
</script></body></html>
"""

SdkFactory = Callable[..., stripe.StripeClient]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, sim: SimServer) -> Iterator[Page]:
    """A page served from its own loopback origin that loads Stripe.js from the sim."""
    html = PAGE.format(sim=sim.base_url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    context = browser.new_context()
    opened = context.new_page()
    opened.goto(f"http://127.0.0.1:{server.server_address[1]}/relink")
    yield opened
    context.close()
    server.shutdown()
    server.server_close()


def relink_session(sdk: SdkFactory, customer: dict[str, Any], auth: dict[str, Any]) -> Any:
    return sdk(PREVIEW).v1.financial_connections.sessions.create(
        params={
            "account_holder": {"type": "customer", "customer": customer["id"]},
            "permissions": ["payment_method"],
            "relink_options": {"authorization": auth["id"], "account": auth["accounts"][0]},
        }
    )


@pytest.mark.browser
def test_collect_and_confirm_in_chromium(
    page: Page,
    sim: SimServer,
    sdk: SdkFactory,
    customer: dict[str, Any],
    authorization: dict[str, Any],
) -> None:
    fca = authorization["accounts"][0]
    intent = sdk(PREVIEW).v1.setup_intents.create(
        params={
            "customer": customer["id"],
            "payment_method_data": {
                "type": "us_bank_account",
                "us_bank_account": {"financial_connections_account": fca},
                "billing_details": {"name": "Ada"},
            },
        }
    )
    assert intent.status == "requires_confirmation"
    sim.client.deactivate_authorization(authorization["id"])
    session = relink_session(sdk, customer, authorization)

    result = page.evaluate(
        "([a, b]) => window.relink(a, b)", [session.client_secret, intent.client_secret]
    )

    collected = result["collected"]
    assert "error" not in collected
    assert collected["financialConnectionsSession"]["id"] == session.id
    assert [a["id"] for a in collected["financialConnectionsSession"]["accounts"]] == [fca]
    assert result["confirmed"]["setupIntent"]["status"] == "succeeded"
    done = sdk(PREVIEW).v1.financial_connections.sessions.retrieve(session.id).to_dict()
    assert done["relink_result"]["authorization"] == authorization["id"]
    assert sdk(PREVIEW).v1.setup_intents.retrieve(intent.id).status == "succeeded"
    reactivated = [e for e in sim.client.events() if e["type"].endswith(".reactivated")]
    assert len(reactivated) == 2


@pytest.mark.browser
def test_configured_scenarios_in_chromium(
    page: Page,
    sim: SimServer,
    sdk: SdkFactory,
    customer: dict[str, Any],
    authorization: dict[str, Any],
) -> None:
    failing = relink_session(sdk, customer, authorization)
    sim.client.set_session_scenario(failing.id, "no_account")
    result = page.evaluate("(a) => window.relink(a, null)", failing.client_secret)
    assert result["collected"]["financialConnectionsSession"]["accounts"] == []
    status = sdk(PREVIEW).v1.financial_connections.sessions.retrieve(failing.id).to_dict()
    assert status["relink_result"]["failure_reason"] == "no_account"

    erroring = relink_session(sdk, customer, authorization)
    sim.client.set_session_scenario(
        erroring.id, "error", error_type="api_connection_error", message="network down"
    )
    result = page.evaluate("(a) => window.relink(a, null)", erroring.client_secret)
    assert result["collected"] == {
        "error": {"type": "api_connection_error", "message": "network down"}
    }
    pending = sdk(PREVIEW).v1.financial_connections.sessions.retrieve(erroring.id)
    assert pending.to_dict()["status"] == "pending"

    unknown = page.evaluate("(a) => window.relink(a, null)", "fcsess_nope_secret_nope")
    assert unknown["collected"]["error"]["type"] == "invalid_request_error"
