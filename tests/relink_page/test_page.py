"""The relink page against the simulator over HTTP: links, headers, sessions, every outcome."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import requests
import stripe
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlmodel import Session, select

from api.relink_page import fc_sessions
from shared.cases.links import LinkPayload
from shared.db import get_engine, session_scope
from shared.models import (
    CaseState,
    EmailKind,
    EmailOutbox,
    FcAccount,
    RelinkAttempt,
    RelinkCase,
)
from shared.settings import get_settings
from shared.stripe_objects import AccountSnapshot
from sim.testing import SimServer
from tests.relink_page.pages import (
    SESSIONS,
    attempts,
    complete,
    data_attr,
    press_button,
    session_creates,
)
from tests.relink_page.world import World, build_world

PREVIEW = "2026-09-30.preview"


def assert_page_headers(response: Any, sim: SimServer) -> None:
    headers = response.headers
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-type"].startswith("text/html")
    csp = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
    assert csp["script-src"] == f"'self' {sim.base_url}"
    assert csp["frame-src"] == sim.base_url
    assert csp["connect-src"] == f"'self' {sim.base_url}"
    assert csp["default-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in headers["content-security-policy"]


# the link itself


def test_tampered_link_is_a_400_page_and_calls_nobody(
    client: TestClient, world: World, sim: SimServer
) -> None:
    token = world.token()
    response = client.get(f"/relink/{token[:-3]}xyz")
    assert response.status_code == 400
    assert "This link isn't valid" in response.text
    assert_page_headers(response, sim)
    assert sim.client.requests("/v1/") == []
    assert attempts(world.case_id) == []


def test_expired_link_offers_a_fresh_one_for_the_address_on_file(
    client: TestClient, world: World, sim: SimServer, clock: list[float], published: list[Any]
) -> None:
    token = world.token()
    clock[0] += get_settings().link_max_age + 1
    response = client.get(f"/relink/{token}")
    assert response.status_code == 410
    assert "This link has expired" in response.text
    assert f'action="/relink/{token}/fresh"' in response.text
    assert 'method="post"' in response.text
    assert_page_headers(response, sim)
    assert sim.client.requests("/v1/") == []

    asked = client.post(f"/relink/{token}/fresh", data={"email": "mallory@example.com"})
    assert asked.status_code == 200
    assert "Check your email" in asked.text
    with session_scope() as session:
        rows = session.exec(select(EmailOutbox).where(EmailOutbox.case_id == world.case_id)).all()
        fresh = [row for row in rows if row.kind == EmailKind.FRESH_LINK]
    assert len(fresh) == 1  # one outbox row, sent by the worker's send_email, in one hop
    assert published == [("relink.send_email", [fresh[0].id])]

    again = client.post(f"/relink/{token}/fresh")
    assert "We sent a new link a few minutes ago" in again.text
    assert len(published) == 1


def test_fresh_link_needs_a_genuine_token(client: TestClient, published: list[Any]) -> None:
    response = client.post("/relink/not-a-token/fresh")
    assert response.status_code == 400
    assert published == []


def test_expired_link_cannot_complete_a_session(
    client: TestClient, world: World, clock: list[float]
) -> None:
    token = world.token()
    session_id, _ = press_button(client, world)
    clock[0] += get_settings().link_max_age + 1
    response = client.post(f"/relink/{token}/complete", data={"session_id": session_id})
    assert response.status_code == 410
    assert attempts(world.case_id)[0].result is None


def test_resolved_case_says_reconnected_without_calling_stripe(
    client: TestClient, world: World, sim: SimServer
) -> None:
    with session_scope() as db:
        case = db.get(RelinkCase, world.case_id)
        assert case is not None
        case.state = CaseState.RESOLVED
    response = client.get(f"/relink/{world.token()}")
    assert response.status_code == 200
    assert "Your bank is reconnected" in response.text
    assert_page_headers(response, sim)
    assert sim.client.requests("/v1/") == []


def test_unknown_case_is_not_found(client: TestClient, world: World) -> None:
    payload = LinkPayload(999, world.accounts[0], world.authorization)
    response = client.get(f"/relink/{World('', '', [], 999, payload).token()}")
    assert response.status_code == 404
    assert "This link isn't valid" in response.text


def test_a_link_naming_another_stripe_account_than_its_case_is_not_found(
    client: TestClient, world: World, sim: SimServer
) -> None:
    """The same case id and object ids, signed for a connected account: not this case."""
    payload = replace(world.payload, stripe_account="acct_1Elsewhere")
    response = client.get(f"/relink/{World('', '', [], world.case_id, payload).token()}")
    assert response.status_code == 404
    assert (
        client.post(
            f"/relink/{World('', '', [], world.case_id, payload).token()}/session"
        ).status_code
        == 404
    )
    assert sim.client.requests("/v1/") == []


def test_account_already_active_again_is_reconnected_and_reconciled(
    client: TestClient, world: World, sim: SimServer, published: list[Any]
) -> None:
    # given the customer relinked elsewhere meanwhile: the live account is active again
    sim.client.complete_session(relink_directly(sim, world), "success")
    sim.client.clear_requests()
    response = client.post(f"/relink/{world.token()}/session")
    assert response.status_code == 200
    assert "Your bank is reconnected" in response.text
    assert session_creates(sim) == []
    assert published == [("relink.reconcile_authorization", [world.authorization])]
    assert attempts(world.case_id) == []


def relink_directly(sim: SimServer, world: World) -> str:
    """Open a relink session straight at the simulator, as another tab would."""
    sdk = stripe.StripeClient(sim.api_key, base_addresses={"api": sim.base_url})
    session = sdk.v1.financial_connections.sessions.create(
        params={
            "permissions": ["payment_method"],
            "relink_options": {"authorization": world.authorization},
        },
        options={"stripe_version": PREVIEW},
    )
    return str(session.id)


def snapshot(**fields: Any) -> AccountSnapshot:
    return AccountSnapshot.parse({"id": "fca_1", **fields})


def test_needs_relink_reads_status_and_upcoming_deactivation() -> None:
    upcoming = {"active": {"action": "relink_required"}}
    horizon_end = 1_800_000_000
    assert snapshot(status="active", status_details=upcoming).needs_relink(horizon_end)
    assert not snapshot(status="active", status_details={}).needs_relink(horizon_end)
    assert snapshot(status="inactive").needs_relink(horizon_end)
    assert snapshot(status="disconnected").needs_relink(horizon_end)


# the session relink opens


def test_the_link_shows_a_button_and_calls_nobody(
    client: TestClient, world: World, sim: SimServer
) -> None:
    response = client.get(f"/relink/{world.token()}")
    assert response.status_code == 200
    assert_page_headers(response, sim)
    assert f'<form method="post" action="/relink/{world.token()}/session">' in response.text
    assert "Reconnect StripeBank" in response.text
    assert "ending in 6789" in response.text
    # Stripe.js runs only once the customer asks; the one script reports the opening.
    assert re.findall(r"<script[^>]*>", response.text) == ['<script src="/static/opened.js">']
    assert sim.client.requests("/v1/") == []
    assert attempts(world.case_id) == []


def test_the_button_opens_a_session_with_exactly_the_relink_parameters(
    client: TestClient, world: World, sim: SimServer
) -> None:
    response = client.post(f"/relink/{world.token()}/session")
    assert response.status_code == 200
    assert_page_headers(response, sim)

    retrieves = [r for r in sim.client.requests("/v1/financial_connections/accounts")]
    assert [(r["method"], r["path"]) for r in retrieves] == [
        ("GET", f"/v1/financial_connections/accounts/{world.accounts[0]}")
    ]
    assert retrieves[0]["stripe_version"] == PREVIEW
    (created,) = session_creates(sim)
    assert created["stripe_version"] == PREVIEW
    assert created["idempotency_key"] == f"relink-{world.authorization}-{world.case_id}-after-0"
    assert created["params"] == {
        "account_holder": {"type": "customer", "customer": world.customer},
        "permissions": ["balances", "payment_method"],
        "relink_options": {"authorization": world.authorization, "account": world.accounts[0]},
    }

    (attempt,) = attempts(world.case_id)
    assert attempt.mode == "account"
    assert attempt.account_id == world.accounts[0]
    secret = sim.client.session(attempt.session_id)["client_secret"]
    assert f'data-client-secret="{secret}"' in response.text
    assert f'src="{sim.base_url}/_sim/stripe.js"' in response.text
    assert 'src="/static/relink.js"' in response.text
    assert 'data-publishable-key="pk_test_sim"' in response.text
    assert "<script>" not in response.text  # no inline script: the CSP forbids it
    assert "Reconnect StripeBank" in response.text
    assert "ending in 6789" in response.text


def test_head_of_the_link_is_its_page_without_a_body(client: TestClient, world: World) -> None:
    response = client.head(f"/relink/{world.token()}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert client.head("/relink/not-a-token").status_code == 400


def test_session_parameters_omit_a_missing_holder_and_keep_permissions_unique() -> None:
    payload = LinkPayload(1, "fca_1", "fcauth_1")
    account = FcAccount(id="fca_1", status="inactive", permissions=["payment_method", "balances"])
    params = fc_sessions.relink_session_params(payload, None, account)
    assert params == {
        "permissions": ["payment_method", "balances"],
        "relink_options": {"authorization": "fcauth_1", "account": "fca_1"},
    }
    live = snapshot(
        status="inactive", account_holder={"type": "account", "account": "acct_1"}, permissions=[]
    )
    assert fc_sessions.relink_session_params(payload, live, account) == {
        "account_holder": {"type": "account", "account": "acct_1"},
        "permissions": ["payment_method", "balances"],
        "relink_options": {"authorization": "fcauth_1", "account": "fca_1"},
    }
    stored = FcAccount(id="fca_1", status="inactive", holder_type="customer", holder_id="cus_1")
    assert fc_sessions.relink_session_params(payload, None, stored)["account_holder"] == {
        "type": "customer",
        "customer": "cus_1",
    }


def test_static_script_is_served(client: TestClient) -> None:
    response = client.get("/static/relink.js")
    assert response.status_code == 200
    assert "collectFinancialConnectionsAccounts" in response.text
    assert "confirmUsBankAccountSetup" in response.text


def test_stripe_failure_is_a_503_page_and_records_nothing(
    client: TestClient, world: World, sim: SimServer
) -> None:
    sim.client.set_faults(error_rate=1.0)
    response = client.post(f"/relink/{world.token()}/session")
    assert response.status_code == 503
    assert "try again in a few minutes" in response.text
    assert attempts(world.case_id) == []


# outcomes


def test_success_records_the_attempt_and_reconciles_the_authorization(
    client: TestClient, world: World, sim: SimServer, published: list[Any]
) -> None:
    session_id, _ = press_button(client, world)
    sim.client.complete_session(session_id, "success")
    response = complete(client, world, session_id)
    assert response.status_code == 200
    assert "Your bank is reconnected" in response.text
    assert_page_headers(response, sim)
    retrieved = [r for r in sim.client.requests(f"{SESSIONS}/{session_id}")]
    assert [r["stripe_version"] for r in retrieved] == [PREVIEW]
    (attempt,) = attempts(world.case_id)
    assert attempt.result == "account"
    assert attempt.completed_at is not None
    assert published == [("relink.reconcile_authorization", [world.authorization])]


def test_broker_failure_does_not_break_the_success_page(
    client: TestClient, world: World, sim: SimServer, broker_down: None
) -> None:
    session_id, _ = press_button(client, world)
    sim.client.complete_session(session_id, "success")
    response = complete(client, world, session_id)
    assert response.status_code == 200
    assert "Your bank is reconnected" in response.text
    assert attempts(world.case_id)[0].result == "account"


def test_complete_accepts_a_json_body(client: TestClient, world: World, sim: SimServer) -> None:
    session_id, _ = press_button(client, world)
    sim.client.complete_session(session_id, "success")
    response = client.post(f"/relink/{world.token()}/complete", json={"session_id": session_id})
    assert "Your bank is reconnected" in response.text


@pytest.mark.parametrize(
    ("outcome", "heading"),
    [
        ("no_authorization", "We couldn't sign in to your bank — try again"),
        ("other", "Something went wrong — try again"),
    ],
)
def test_failures_are_recorded_and_offer_a_retry(
    client: TestClient,
    world: World,
    sim: SimServer,
    published: list[Any],
    outcome: str,
    heading: str,
) -> None:
    session_id, _ = press_button(client, world)
    sim.client.complete_session(session_id, outcome)
    response = complete(client, world, session_id)
    assert response.status_code == 200
    assert heading in response.text
    assert f'href="/relink/{world.token()}"' in response.text
    (attempt,) = attempts(world.case_id)
    assert attempt.result == outcome
    assert published == []


def test_cancelled_session_is_a_retry(client: TestClient, world: World, sim: SimServer) -> None:
    session_id, _ = press_button(client, world)
    sim.client.complete_session(session_id, "cancelled")
    response = complete(client, world, session_id)
    assert "Reconnection not finished" in response.text
    assert attempts(world.case_id)[0].result == "cancelled"


def test_session_of_another_case_is_refused(
    client: TestClient, world: World, sim: SimServer
) -> None:
    with session_scope() as db:
        other = build_world(sim.client, db, institution="Other Bank")
    other_session, _ = press_button(client, other)
    sim.client.complete_session(other_session, "success")
    response = complete(client, world, other_session)
    assert response.status_code == 400
    assert [a.result for a in attempts(other.case_id)] == [None]
    assert complete(client, world, "not-a-session").status_code == 400


def no_account(client: TestClient, world: World, sim: SimServer) -> Any:
    session_id, _ = press_button(client, world)
    sim.client.complete_session(session_id, "no_account")
    return complete(client, world, session_id)


def test_no_account_offers_any_checking_or_savings_account_at_the_bank(
    client: TestClient, world: World, sim: SimServer
) -> None:
    response = no_account(client, world, sim)
    assert response.status_code == 200
    assert "Link any checking or savings account at StripeBank" in response.text
    assert f'action="/relink/{world.token()}/session"' in response.text  # its own button
    (first,) = attempts(world.case_id)
    assert (first.result, first.mode) == ("no_account", "account")
    assert len(session_creates(sim)) == 1
    # the link's page now offers the same, and its button opens the authorization session
    again = client.get(f"/relink/{world.token()}")
    assert "Link any checking or savings account at StripeBank" in again.text
    session_id, secret = press_button(client, world)
    first, second = attempts(world.case_id)
    assert (second.mode, second.result, second.session_id) == ("authorization", None, session_id)
    assert secret == sim.client.session(second.session_id)["client_secret"]
    created = session_creates(sim)[-1]
    assert created["stripe_version"] == PREVIEW
    assert created["params"] == {
        "account_holder": {"type": "customer", "customer": world.customer},
        "permissions": ["balances", "payment_method"],
        "relink_options": {"authorization": world.authorization},
        "filters": {"account_subcategories": ["checking", "savings"]},
        "limits": {"accounts": "1"},
    }
    accounts = [r for r in sim.client.requests("/v1/financial_connections/accounts")]
    assert len(accounts) == 1  # the account is not read again for the authorization mode


def test_no_account_then_a_known_account_is_a_success(
    client: TestClient, world: World, sim: SimServer, published: list[Any]
) -> None:
    no_account(client, world, sim)
    session_id, _ = press_button(client, world)
    sim.client.complete_session(session_id, "success", accounts=[world.accounts[1]])
    response = complete(client, world, session_id)
    assert "Your bank is reconnected" in response.text
    second = attempts(world.case_id)[1]
    assert (second.result, second.linked_account_id) == ("authorization", world.accounts[1])
    assert published == [("relink.reconcile_authorization", [world.authorization])]
    # a reload of the link after the relink says so, without calling Stripe
    sim.client.clear_requests()
    assert "Your bank is reconnected" in client.get(f"/relink/{world.token()}").text
    assert sim.client.requests("/v1/") == []


def link_new_account(client: TestClient, world: World, sim: SimServer) -> tuple[str, str]:
    """no_account, then a new savings account: the confirm page's SetupIntent and secret."""
    no_account(client, world, sim)
    session_id, _ = press_button(client, world)
    sim.client.complete_session(
        session_id, "new_account", new_accounts=[{"subcategory": "savings", "last4": "1111"}]
    )
    offer = complete(client, world, session_id)
    assert offer.status_code == 200
    assert "Name of the account holder" in offer.text
    assert "ending in 1111" in offer.text
    assert f'action="/relink/{world.token()}/setup"' in offer.text
    confirm = client.post(
        f"/relink/{world.token()}/setup",
        data={"session_id": session_id, "name": "  Ada   Lovelace "},
    )
    assert confirm.status_code == 200, confirm.text
    assert "Authorization to debit your account" in confirm.text
    assert "Savings ending in 1111" in confirm.text
    assert "Account holder: <strong>Ada Lovelace</strong>" in confirm.text
    assert "6789" not in confirm.text
    assert_page_headers(confirm, sim)
    return data_attr(confirm.text, 'name="setup_intent" value'), data_attr(
        confirm.text, "data-setup-secret"
    )


def test_a_new_account_the_worker_recorded_first_is_still_offered_as_new(
    client: TestClient, world: World, sim: SimServer
) -> None:
    """The new account's `account.created` event can beat the browser back to the page:
    relink then holds its row already, and it is still the account to save."""
    no_account(client, world, sim)
    session_id, _ = press_button(client, world)
    with session_scope() as db:  # the customer spent a while at the bank
        attempt = db.get(RelinkAttempt, attempts(world.case_id)[1].id)
        assert attempt is not None
        attempt.created_at -= timedelta(seconds=30)
    sim.client.complete_session(
        session_id, "new_account", new_accounts=[{"subcategory": "savings", "last4": "1111"}]
    )
    with sim.state.lock:
        [new_account] = sim.state.sessions[session_id].accounts
    with session_scope() as db:
        db.add(FcAccount(id=new_account, authorization_id=world.authorization, status="active"))
    offer = complete(client, world, session_id)
    assert "Name of the account holder" in offer.text
    assert attempts(world.case_id)[1].linked_account_id == new_account


def test_new_account_becomes_a_setup_intent_and_a_saved_payment_method(
    client: TestClient, world: World, sim: SimServer, published: list[Any]
) -> None:
    setup_intent, secret = link_new_account(client, world, sim)
    second = attempts(world.case_id)[1]
    assert second.result == "new_account"
    assert second.linked_account_id not in world.accounts
    assert second.setup_intent_id == setup_intent
    with Session(get_engine()) as db:  # both old accounts were down: the new one replaces them
        old = [db.get(FcAccount, (a, "")) for a in world.accounts]
        assert [a.replaced_by for a in old if a] == [second.linked_account_id] * 2

    (created,) = [r for r in sim.client.requests("/v1/setup_intents") if r["method"] == "POST"]
    assert created["stripe_version"] == PREVIEW
    assert created["params"] == {
        "allowed_payment_method_types": ["us_bank_account"],
        "payment_method_data": {
            "type": "us_bank_account",
            "us_bank_account": {"financial_connections_account": second.linked_account_id},
            "billing_details": {"name": "Ada Lovelace"},
        },
        "usage": "off_session",
        "customer": world.customer,
    }

    # what Stripe.js's confirmUsBankAccountSetup does in the browser
    confirmed = requests.post(
        f"{sim.base_url}/_sim/stripejs/confirm_setup", json={"client_secret": secret}, timeout=5
    ).json()
    assert confirmed["setupIntent"]["status"] == "succeeded"

    saved = client.post(
        f"/relink/{world.token()}/setup/complete", data={"setup_intent": setup_intent}
    )
    assert saved.status_code == 200
    assert "Your new bank account is saved" in saved.text
    payment_method = confirmed["setupIntent"]["payment_method"]
    second = attempts(world.case_id)[1]
    assert (second.result, second.payment_method_id) == ("payment_method", payment_method)
    with Session(get_engine()) as db:
        case = db.get(RelinkCase, world.case_id)
        assert case is not None
        assert case.payment_method_id == payment_method
    # reconciled when the new account was linked (the replacement), and when it was saved
    assert published == [("relink.reconcile_authorization", [world.authorization])] * 2


def test_unconfirmed_setup_intent_is_not_saved(
    client: TestClient, world: World, sim: SimServer
) -> None:
    setup_intent, _ = link_new_account(client, world, sim)
    response = client.post(
        f"/relink/{world.token()}/setup/complete", data={"setup_intent": setup_intent}
    )
    assert "We couldn't save your new account" in response.text
    assert attempts(world.case_id)[1].payment_method_id is None


def test_a_new_account_can_be_saved_after_a_reload_or_a_failed_confirmation(
    client: TestClient, world: World, sim: SimServer, published: list[Any]
) -> None:
    setup_intent, secret = link_new_account(client, world, sim)
    unconfirmed = client.post(
        f"/relink/{world.token()}/setup/complete", data={"setup_intent": setup_intent}
    )
    assert "We couldn't save your new account" in unconfirmed.text
    # the link's page resumes at the name form; the form gives back the same SetupIntent
    resumed = client.get(f"/relink/{world.token()}")
    assert "Name of the account holder" in resumed.text
    session_id = data_attr(resumed.text, 'name="session_id" value')
    again = client.post(
        f"/relink/{world.token()}/setup", data={"session_id": session_id, "name": "Ada L"}
    )
    assert data_attr(again.text, 'name="setup_intent" value') == setup_intent
    assert data_attr(again.text, "data-setup-secret") == secret
    assert "Account holder:" not in again.text  # the name on it is the one given first
    requests.post(
        f"{sim.base_url}/_sim/stripejs/confirm_setup", json={"client_secret": secret}, timeout=5
    )
    saved = client.post(
        f"/relink/{world.token()}/setup/complete", data={"setup_intent": setup_intent}
    )
    assert "Your new bank account is saved" in saved.text
    assert len(sim.state.setup_intents) == 1
    assert published == [("relink.reconcile_authorization", [world.authorization])] * 2
    assert "Your new bank account is saved" in client.get(f"/relink/{world.token()}").text


def test_setup_needs_a_session_that_linked_a_new_account(
    client: TestClient, world: World, sim: SimServer
) -> None:
    session_id, _ = press_button(client, world)
    response = client.post(
        f"/relink/{world.token()}/setup", data={"session_id": session_id, "name": "Ada"}
    )
    assert response.status_code == 400
    assert sim.client.requests("/v1/setup_intents") == []
    missing_name = client.post(
        f"/relink/{world.token()}/setup", data={"session_id": session_id, "name": "  "}
    )
    assert missing_name.status_code == 400


def test_client_secrets_reach_neither_the_database_nor_the_logs(
    client: TestClient,
    world: World,
    sim: SimServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup_intent, seti_secret = link_new_account(client, world, sim)
    secrets = [
        s["client_secret"]
        for s in (sim.client.session(a.session_id) for a in attempts(world.case_id))
    ]
    secrets.append(seti_secret)
    assert len(secrets) == 3
    assert all("_secret_" in s for s in secrets)
    dump = []
    with get_engine().connect() as connection:
        for table in inspect(connection).get_table_names():
            query = text(f'SELECT * FROM "{table}"')  # noqa: S608 (names from the schema)
            dump.extend(str(row) for row in connection.execute(query))
    everything = "\n".join(dump) + capsys.readouterr().out + caplog.text
    assert setup_intent in "\n".join(dump)  # the dump does hold the attempt rows
    assert "relink_session_opened" in everything  # and the logs were captured
    for secret in secrets:
        assert secret not in everything


def test_page_text_is_escaped(client: TestClient, sim: SimServer) -> None:
    with session_scope() as db:
        world = build_world(sim.client, db, institution="<b>Evil</b> Bank")
    response = client.get(f"/relink/{world.token()}")
    assert response.status_code == 200
    assert "&lt;b&gt;Evil&lt;/b&gt; Bank" in response.text
    assert "<b>Evil</b>" not in response.text
