"""RELINK_UI=stripe_hosted against the simulator over HTTP: the button redirects to the
session's hosted page, the return route reads the session back as the embedded flow does, a
new account is saved with the mandate accepted on relink's page; and each mode's routes are
refused in the other."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.app import create_app
from api.relink_page import stripe_calls
from shared import ratelimit
from shared.cases.links import sign_link
from shared.db import get_engine, session_scope
from shared.models import RelinkCase
from shared.settings import get_settings
from sim.testing import SimServer
from tests.relink_page.pages import SESSIONS, attempts, session_creates
from tests.relink_page.world import World

CUSTOMER_IP = "203.0.113.7"
HOSTED_ROUTES = [("POST", "hosted"), ("GET", "return"), ("POST", "hosted/setup")]
EMBEDDED_ROUTES = [("POST", "session"), ("POST", "complete")]
EMBEDDED_ROUTES += [("POST", "setup"), ("POST", "setup/complete")]


@pytest.fixture
def hosted(sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELINK_UI", "stripe_hosted")
    get_settings.cache_clear()


@pytest.fixture
def client(db: None, sim: SimServer, published: list[Any]) -> Iterator[TestClient]:
    """The app, reached from a real IP address (the mandate records it)."""
    ratelimit.reset_buckets()
    stripe_calls.reset()
    app = create_app()
    with TestClient(app, follow_redirects=False, client=(CUSTOMER_IP, 50000)) as test_client:
        yield test_client
    ratelimit.reset_buckets()
    stripe_calls.reset()


def assert_no_stripe_js_and_no_secret(response: Any, sim: SimServer) -> None:
    text = response.text
    assert "_secret_" not in text
    assert "client_secret" not in text
    assert "client-secret" not in text
    assert "<script" not in text or 'src="/static/opened.js"' in text
    assert "stripe.js" not in text
    assert "js.stripe.com" not in text
    assert "stripe.js" not in response.headers.get("location", "")
    csp = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    assert csp["script-src"] == "'self'"
    assert csp["frame-src"] == "'none'"
    assert csp["connect-src"] == "'self'"
    assert csp["form-action"] == f"'self' {sim.base_url}"


def go_hosted(client: TestClient, world: World, sim: SimServer) -> str:
    """Press the button: a 303 to the hosted page of the session it opened; its id."""
    response = client.post(f"/relink/{world.token()}/hosted")
    assert response.status_code == 303, response.text
    assert_no_stripe_js_and_no_secret(response, sim)
    location = response.headers["location"]
    assert location.startswith(f"{sim.base_url}/_sim/hosted/fcsess_")
    session_id = location.rsplit("/", 1)[1]
    assert sim.client.session(session_id)["url"] == location
    return session_id


def come_back(client: TestClient, world: World, query: str = "") -> Any:
    return client.get(f"/relink/{world.token()}/return{query}")


def test_the_button_opens_a_hosted_session_that_returns_to_this_link(
    hosted: None, client: TestClient, world: World, sim: SimServer
) -> None:
    page = client.get(f"/relink/{world.token()}")
    assert page.status_code == 200
    assert f'action="/relink/{world.token()}/hosted"' in page.text
    assert_no_stripe_js_and_no_secret(page, sim)
    assert sim.client.requests("/v1/") == []

    session_id = go_hosted(client, world, sim)
    (created,) = session_creates(sim)
    return_url = f"{get_settings().public_base_url}/relink/{world.token()}/return"
    assert created["params"] == {
        "account_holder": {"type": "customer", "customer": world.customer},
        "permissions": ["balances", "payment_method"],
        "relink_options": {"authorization": world.authorization, "account": world.accounts[0]},
        "ui_mode": "hosted",
        "hosted": {"delivery_method": "url"},  # the spec's hosted has nothing else
        "return_url": return_url,
    }
    (attempt,) = attempts(world.case_id)
    assert (attempt.session_id, attempt.mode, attempt.result) == (session_id, "account", None)

    # a second press while it is open goes back to the same hosted page
    assert go_hosted(client, world, sim) == session_id
    assert len(session_creates(sim)) == 1


def test_the_return_reads_the_session_and_a_replay_calls_nobody(
    hosted: None, client: TestClient, world: World, sim: SimServer, published: list[Any]
) -> None:
    session_id = go_hosted(client, world, sim)
    sim.client.complete_session(session_id, "success")
    sim.client.clear_requests()
    back = come_back(client, world, "?session_id=fcsess_forged&relink_result=failed")
    assert back.status_code == 200
    assert "Your bank is reconnected" in back.text
    assert_no_stripe_js_and_no_secret(back, sim)
    (retrieved,) = sim.client.requests(SESSIONS)
    assert retrieved["path"] == f"{SESSIONS}/{session_id}"
    assert [a.result for a in attempts(world.case_id)] == ["account"]
    assert published == [("relink.reconcile_authorization", [world.authorization])]

    sim.client.clear_requests()
    again = come_back(client, world)
    assert "Your bank is reconnected" in again.text
    assert sim.client.requests("/v1/") == []
    assert len(published) == 1


def test_the_query_cannot_claim_a_success_stripe_did_not_report(
    hosted: None, client: TestClient, world: World, sim: SimServer, published: list[Any]
) -> None:
    go_hosted(client, world, sim)  # the customer comes back without finishing
    back = come_back(client, world, "?status=succeeded&relink_result[account]=x")
    assert "Reconnection not finished" in back.text
    assert published == []


def test_an_early_return_records_nothing_and_the_real_one_reads_the_success(
    hosted: None, client: TestClient, world: World, sim: SimServer, published: list[Any]
) -> None:
    """L5: a GET of …/return before the customer finished (a prefetch, a back button) finished
    the attempt as `pending`; after the real success the customer read "not finished"."""
    session_id = go_hosted(client, world, sim)
    early = come_back(client, world)
    assert "Reconnection not finished" in early.text
    assert [a.result for a in attempts(world.case_id)] == [None]
    sim.client.complete_session(session_id, "success")
    back = come_back(client, world)
    assert "Your bank is reconnected" in back.text
    assert [a.result for a in attempts(world.case_id)] == ["account"]
    assert published == [("relink.reconcile_authorization", [world.authorization])]


@pytest.mark.parametrize(
    ("outcome", "heading"),
    [
        ("no_authorization", "We couldn't sign in to your bank"),
        ("cancelled", "Reconnection not finished"),
        ("other", "Something went wrong — try again"),
    ],
)
def test_failures_come_back_as_the_embedded_flow_shows_them(
    hosted: None, client: TestClient, world: World, sim: SimServer, outcome: str, heading: str
) -> None:
    session_id = go_hosted(client, world, sim)
    sim.client.complete_session(session_id, outcome)
    back = come_back(client, world)
    assert heading in back.text
    assert f'href="/relink/{world.token()}"' in back.text  # try again


def test_a_return_with_no_stored_session_is_refused_and_calls_nobody(
    hosted: None, client: TestClient, world: World, sim: SimServer
) -> None:
    back = come_back(client, world, "?session_id=fcsess_123")
    assert back.status_code == 400
    assert "We couldn't match that request to this link" in back.text
    assert sim.client.requests("/v1/") == []


def test_bad_and_expired_tokens_are_refused_before_anything_else(
    hosted: None, client: TestClient, world: World, sim: SimServer, clock: list[float]
) -> None:
    token = world.token()
    for method, path in HOSTED_ROUTES:
        tampered = client.request(method, f"/relink/{token[:-3]}xyz/{path}")
        assert tampered.status_code == 400
        assert "This link isn't valid" in tampered.text
    clock[0] += get_settings().link_max_age + 1
    for method, path in HOSTED_ROUTES:
        expired = client.request(method, f"/relink/{token}/{path}")
        assert expired.status_code == 410
        assert "This link has expired" in expired.text
    assert sim.client.requests("/v1/") == []
    assert attempts(world.case_id) == []


def test_embedded_routes_are_refused_in_hosted_mode(
    hosted: None, client: TestClient, world: World, sim: SimServer
) -> None:
    for method, path in EMBEDDED_ROUTES:
        response = client.request(method, f"/relink/{world.token()}/{path}")
        assert response.status_code == 404, path
        assert "_secret_" not in response.text
    assert sim.client.requests("/v1/") == []
    assert attempts(world.case_id) == []


def test_hosted_routes_are_refused_in_embedded_mode(
    client: TestClient, world: World, sim: SimServer
) -> None:
    assert get_settings().relink_ui == "embedded"
    assert (
        f'action="/relink/{world.token()}/session"' in client.get(f"/relink/{world.token()}").text
    )
    for method, path in HOSTED_ROUTES:
        response = client.request(method, f"/relink/{world.token()}/{path}")
        assert response.status_code == 404, path
    assert sim.client.requests("/v1/") == []
    assert attempts(world.case_id) == []


def test_no_account_then_a_new_account_saved_with_the_mandate_accepted_here(
    hosted: None, client: TestClient, world: World, sim: SimServer, published: list[Any]
) -> None:
    first = go_hosted(client, world, sim)
    sim.client.complete_session(first, "no_account")
    offer = come_back(client, world)
    assert "Link any checking or savings account at StripeBank" in offer.text
    assert f'action="/relink/{world.token()}/hosted"' in offer.text
    assert_no_stripe_js_and_no_secret(offer, sim)

    second = go_hosted(client, world, sim)
    created = session_creates(sim)[-1]["params"]
    assert created["relink_options"] == {"authorization": world.authorization}
    assert created["ui_mode"] == "hosted"
    sim.client.complete_session(
        second, "new_account", new_accounts=[{"subcategory": "savings", "last4": "1111"}]
    )
    form = come_back(client, world)
    assert "Name of the account holder" in form.text
    assert "Authorization to debit your account" in form.text
    assert 'name="accept"' in form.text
    assert f'action="/relink/{world.token()}/hosted/setup"' in form.text
    assert_no_stripe_js_and_no_secret(form, sim)

    fields = {"session_id": second, "name": " Ada  Lovelace "}
    refused = client.post(f"/relink/{world.token()}/hosted/setup", data=fields)
    assert refused.status_code == 400  # the mandate was not accepted
    assert [r for r in sim.client.requests("/v1/setup_intents")] == []

    agent = {"User-Agent": "Mozilla/5.0 (relink test)"}
    saved = client.post(
        f"/relink/{world.token()}/hosted/setup", data={**fields, "accept": "yes"}, headers=agent
    )
    assert saved.status_code == 200, saved.text
    assert "Your new bank account is saved" in saved.text
    assert_no_stripe_js_and_no_secret(saved, sim)
    linked = attempts(world.case_id)[1]
    (create,) = [r for r in sim.client.requests("/v1/setup_intents") if r["method"] == "POST"]
    assert create["params"] == {
        "allowed_payment_method_types": ["us_bank_account"],
        "payment_method_data": {
            "type": "us_bank_account",
            "us_bank_account": {"financial_connections_account": linked.linked_account_id},
            "billing_details": {"name": "Ada Lovelace"},
        },
        "usage": "off_session",
        "customer": world.customer,
        "confirm": "true",
        "mandate_data": {
            "customer_acceptance": {
                "type": "online",
                "online": {"ip_address": CUSTOMER_IP, "user_agent": agent["User-Agent"]},
            }
        },
    }
    intent = sim.state.setup_intents[str(linked.setup_intent_id)]
    assert (intent.status, intent.mandate is not None) == ("succeeded", True)
    assert (linked.result, linked.payment_method_id) == ("payment_method", intent.payment_method)
    with Session(get_engine()) as db:
        case = db.get(RelinkCase, world.case_id)
        assert case is not None
        assert case.payment_method_id == intent.payment_method
    assert published == [("relink.reconcile_authorization", [world.authorization])] * 2

    # a replayed POST or return saves nothing twice and calls nobody
    sim.client.clear_requests()
    again = client.post(f"/relink/{world.token()}/hosted/setup", data={**fields, "accept": "yes"})
    assert "Your new bank account is saved" in again.text
    assert "Your new bank account is saved" in come_back(client, world).text
    assert sim.client.requests("/v1/") == []
    assert len(published) == 2


def test_a_newer_link_does_not_reuse_a_session_that_returns_to_an_older_one(
    hosted: None, client: TestClient, world: World, sim: SimServer, clock: list[float]
) -> None:
    first = go_hosted(client, world, sim)
    clock[0] += 60  # a fresh link for the same case, signed a minute later
    newer = sign_link(world.payload)
    assert newer != world.token()
    response = client.post(f"/relink/{newer}/hosted")
    assert response.status_code == 303
    second = response.headers["location"].rsplit("/", 1)[1]
    assert second != first
    returns_to = sim.client.session(second)["return_url"]
    assert returns_to == f"{get_settings().public_base_url}/relink/{newer}/return"


def test_the_hosted_new_account_path_and_its_mandate_in_spanish(
    hosted: None, client: TestClient, world: World, sim: SimServer
) -> None:
    with session_scope() as db:
        case = db.get(RelinkCase, world.case_id)
        assert case is not None
        case.locale = "es"  # the language its email was written in
        db.add(case)
    start = client.get(f"/relink/{world.token()}")
    assert '<html lang="es">' in start.text
    assert ">Volver a conectar StripeBank</button>" in start.text
    first = go_hosted(client, world, sim)
    sim.client.complete_session(first, "no_account")
    offer = come_back(client, world)
    assert "Vincule cualquier cuenta de cheques o de ahorros en StripeBank" in offer.text
    second = go_hosted(client, world, sim)
    sim.client.complete_session(
        second, "new_account", new_accounts=[{"subcategory": "savings", "last4": "1111"}]
    )
    form = come_back(client, world)
    assert form.headers["content-language"] == "es"
    assert "Autorización para debitar su cuenta" in form.text
    assert "Acepto la autorización anterior</label>" in form.text
    assert ">Aceptar y confirmar</button>" in form.text
    assert "authorize" not in form.text
    saved = client.post(
        f"/relink/{world.token()}/hosted/setup",
        data={"session_id": second, "name": "Ana Pérez", "accept": "yes"},
        headers={"User-Agent": "Mozilla/5.0 (relink test)"},
    )
    assert saved.status_code == 200, saved.text
    assert "Su nueva cuenta bancaria está guardada" in saved.text
