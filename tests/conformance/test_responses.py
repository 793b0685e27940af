"""Every object the simulator serves on the endpoints relink calls, in every state relink
meets, is valid against Stripe's published schema (tests/conformance/spec)."""

from __future__ import annotations

from typing import Any

import pytest

from sim.testing import SimServer
from tests.conformance.conftest import GA, PREVIEW, Read
from tests.conformance.schemas import assert_valid, errors, errors_against, list_of

OUTCOMES = ("success", "new_account", "no_account", "no_authorization", "other", "cancelled")
ACCOUNTS = "/v1/financial_connections/accounts"
SESSIONS = "/v1/financial_connections/sessions"


def world(sim: SimServer) -> dict[str, Any]:
    """One customer with an authorization of two accounts."""
    customer = sim.client.create_customer("ada@example.com")["id"]
    auth = sim.client.create_authorization(
        {"type": "customer", "customer": customer},
        institution="StripeBank",
        accounts=[
            {"subcategory": "checking", "permissions": ["payment_method", "balances"]},
            {"subcategory": "savings", "permissions": ["balances"]},
        ],
    )
    return {"customer": customer, "auth": auth["id"], "accounts": auth["accounts"]}


def in_state(sim: SimServer, state: str) -> dict[str, Any]:
    found = world(sim)
    first, auth = found["accounts"][0], found["auth"]
    if state == "inactive":
        sim.client.deactivate_authorization(auth)
    elif state == "disconnected":
        sim.client.disconnect_account(first)
    elif state == "warned":
        sim.client.mark_upcoming_deactivation(first, expected_deactivation_date=2_000_000_000)
    elif state == "authorization_warned":
        sim.client.mark_authorization_upcoming_deactivation(
            auth, expected_deactivation_date=2_000_000_000
        )
    elif state == "number_expiring":
        sim.client.mark_account_number_expiry(first, expected_expiry_date=2_000_000_000)
    elif state in ("number_deactivated", "number_expired", "number_pending"):
        sim.client.set_account_number_status(first, state.removeprefix("number_"))
    return found


STATES = (
    "active",
    "inactive",
    "disconnected",
    "warned",
    "authorization_warned",
    "number_expiring",
    "number_deactivated",
    "number_expired",
    "number_pending",
)


@pytest.mark.parametrize("version", [PREVIEW, GA])
@pytest.mark.parametrize("state", STATES)
def test_accounts_in_every_state(sim: SimServer, read: Read, state: str, version: str) -> None:
    found = in_state(sim, state)
    for account_id in found["accounts"]:
        assert_valid(
            "financial_connections.account", read("GET", f"{ACCOUNTS}/{account_id}", version)
        )
    page = read("GET", ACCOUNTS, version, **{"account_holder[customer]": found["customer"]})
    assert len(page["data"]) == 2
    assert errors_against(list_of("financial_connections.account"), page) == []


@pytest.mark.parametrize("state", STATES)
def test_authorizations_in_every_state(sim: SimServer, read: Read, state: str) -> None:
    found = in_state(sim, state)
    if state == "disconnected":
        sim.client.disconnect_account(found["accounts"][1])  # every account: the authorization
    body = read("GET", f"/v1/financial_connections/authorizations/{found['auth']}")
    assert_valid("financial_connections.authorization", body)


def relink_session(read: Read, found: dict[str, Any], kind: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "permissions[]": ["payment_method", "balances"],
        "account_holder[type]": "customer",
        "account_holder[customer]": found["customer"],
        "relink_options[authorization]": found["auth"],
    }
    if kind == "account":
        params["relink_options[account]"] = found["accounts"][0]
    if kind == "any_account":
        params |= {"filters[account_subcategories][]": ["checking", "savings"]}
        params |= {"limits[accounts]": "1"}
    if kind == "hosted":
        params |= {"ui_mode": "hosted", "hosted[delivery_method]": "url"}
        params |= {"return_url": "https://relink.example/relink/t/return"}
    return read("POST", SESSIONS, PREVIEW, **params)


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("kind", ["account", "any_account", "hosted"])
def test_relink_sessions_before_and_after_each_result(
    sim: SimServer, read: Read, kind: str, outcome: str
) -> None:
    if outcome == "new_account" and kind in ("account", "hosted"):
        kind = "any_account"  # a new account needs a session without relink_options[account]
    found = in_state(sim, "inactive")
    created = relink_session(read, found, kind)
    assert_valid("financial_connections.session", created)
    assert "relink_result" not in created
    assert_valid("financial_connections.session", read("GET", f"{SESSIONS}/{created['id']}"))
    sim.client.complete_session(created["id"], outcome)
    for version in (PREVIEW, GA):
        done = read("GET", f"{SESSIONS}/{created['id']}", version)
        assert_valid("financial_connections.session", done)
    done = read("GET", f"{SESSIONS}/{created['id']}")
    assert "relink_result" in done
    assert ("status_details" in done) is (outcome == "cancelled")


def test_a_first_link_session_and_its_accounts(sim: SimServer, read: Read) -> None:
    customer = sim.client.create_customer()["id"]
    created = read(
        "POST",
        SESSIONS,
        PREVIEW,
        **{
            "account_holder[type]": "customer",
            "account_holder[customer]": customer,
            "permissions[]": ["payment_method"],
            "filters[country]": "US",
        },
    )
    assert_valid("financial_connections.session", created)
    assert created["filters"] == {"account_subcategories": None, "country": "US"}
    sim.client.complete_session(created["id"], "success")
    done = read("GET", f"{SESSIONS}/{created['id']}")
    assert_valid("financial_connections.session", done)
    assert "relink_options" not in done
    assert "relink_result" not in done


def billing(sim: SimServer, read: Read) -> dict[str, Any]:
    """A customer with a saved PaymentMethod as its default and subscriptions in every status."""
    found = world(sim)
    pm = sim.client.create_payment_method(found["accounts"][0], found["customer"])["id"]
    read(
        "POST",
        f"/v1/customers/{found['customer']}",
        **{"invoice_settings[default_payment_method]": pm},
    )
    statuses = ("active", "trialing", "past_due", "canceled", "unpaid", "incomplete", "paused")
    subs = [
        sim.client.create_subscription(found["customer"], pm, status)["id"] for status in statuses
    ]
    return {**found, "pm": pm, "subscriptions": subs}


def test_a_customer_with_preferred_locales_is_spec_valid(sim: SimServer, read: Read) -> None:
    customer = sim.client.create_customer("ana@example.com", ["es-419", "en"])["id"]
    found = read("GET", f"/v1/customers/{customer}")
    assert_valid("customer", found)
    assert found["preferred_locales"] == ["es-419", "en"]


@pytest.mark.parametrize("status", ["deactivated", "expired", "transactable"])
def test_a_payment_method_blocked_by_its_account_number_and_unblocked(
    sim: SimServer, read: Read, status: str
) -> None:
    found = billing(sim, read)
    sim.client.set_account_number_status(found["accounts"][0], status)
    page = read("GET", "/v1/payment_methods", customer=found["customer"], type="us_bank_account")
    assert errors_against(list_of("payment_method"), page) == []
    [method] = page["data"]
    blocked = {"blocked": {"network_code": None, "reason": "tokenized_account_number_deactivated"}}
    assert method["us_bank_account"]["status_details"] == (
        {} if status == "transactable" else blocked
    )
    bad = {**blocked["blocked"], "reason": "tan_gone"}
    wrong = {
        **method,
        "us_bank_account": {**method["us_bank_account"], "status_details": {"blocked": bad}},
    }
    assert errors("payment_method", wrong)  # the validator reads the blocked reason's enum


def test_billing_objects_have_every_required_field(sim: SimServer, read: Read) -> None:
    found = billing(sim, read)
    customer = found["customer"]
    assert_valid("customer", read("GET", f"/v1/customers/{customer}"))
    updated = read("POST", f"/v1/customers/{customer}", **{"invoice_settings[footer]": "x"})
    assert_valid("customer", updated)
    for page in (
        read("GET", "/v1/payment_methods", customer=customer, type="us_bank_account"),
        read("GET", f"/v1/customers/{customer}/payment_methods"),
    ):
        assert page["data"]
        assert errors_against(list_of("payment_method"), page) == []
    subscriptions = read("GET", "/v1/subscriptions", customer=customer, status="all")
    assert len(subscriptions["data"]) == 7
    assert errors_against(list_of("subscription"), subscriptions) == []
    moved = read(
        "POST", f"/v1/subscriptions/{found['subscriptions'][0]}", default_payment_method=""
    )
    assert_valid("subscription", moved)
    assert_valid("payment_method", read("POST", f"/v1/payment_methods/{found['pm']}/detach"))


def test_subscription_items_and_their_prices(sim: SimServer, read: Read) -> None:
    """Items with recurring prices (what relink's money at stake reads), in two intervals
    and two currencies."""
    found = world(sim)
    customer = found["customer"]
    pm = sim.client.create_payment_method(found["accounts"][0], customer)["id"]
    monthly = {"unit_amount": 2500, "interval": "month", "quantity": 2}
    yearly = {"unit_amount": 90000, "currency": "eur", "interval": "year"}
    sim.client.create_subscription(customer, pm, items=[monthly, monthly | {"unit_amount": 100}])
    sim.client.create_subscription(customer, pm, items=[yearly])
    page = read("GET", "/v1/subscriptions", customer=customer)
    assert errors_against(list_of("subscription"), page) == []
    items = [item for subscription in page["data"] for item in subscription["items"]["data"]]
    assert len(items) == 3
    for item in items:
        assert_valid("subscription_item", item)
        assert_valid("price", item["price"])
    assert sorted(
        (
            s["currency"],
            i["price"]["recurring"]["interval"],
            i["price"]["unit_amount"],
            i["quantity"],
        )
        for s in page["data"]
        for i in s["items"]["data"]
    ) == [("eur", "year", 90000, 1), ("usd", "month", 100, 2), ("usd", "month", 2500, 2)]


def test_setup_intents_unconfirmed_and_confirmed(sim: SimServer, read: Read) -> None:
    customer = sim.client.create_customer()["id"]
    session = read(
        "POST",
        SESSIONS,
        **{
            "account_holder[type]": "customer",
            "account_holder[customer]": customer,
            "permissions[]": ["payment_method"],
        },
    )
    sim.client.complete_session(session["id"], "success")
    fca = read("GET", f"{SESSIONS}/{session['id']}")["accounts"]["data"][0]["id"]
    pm_data = {
        "payment_method_data[type]": "us_bank_account",
        "payment_method_data[us_bank_account][financial_connections_account]": fca,
        "payment_method_data[billing_details][name]": "Ada Lovelace",
    }
    unconfirmed = read("POST", "/v1/setup_intents", customer=customer, **pm_data)
    confirmed = read(
        "POST",
        "/v1/setup_intents",
        customer=customer,
        confirm="true",
        **pm_data,
        **{
            "mandate_data[customer_acceptance][type]": "online",
            "mandate_data[customer_acceptance][online][ip_address]": "203.0.113.7",
            "mandate_data[customer_acceptance][online][user_agent]": "Mozilla/5.0",
        },
    )
    assert confirmed["status"] == "succeeded"
    for intent in (unconfirmed, confirmed):
        assert_valid("setup_intent", intent)
        assert_valid("setup_intent", read("GET", f"/v1/setup_intents/{intent['id']}"))


def test_events_and_webhook_endpoints(sim: SimServer, read: Read) -> None:
    in_state(sim, "inactive")
    sim.client.configure_webhooks("https://relink.example/webhooks/stripe", "whsec_x")
    page = read("GET", "/v1/events", type="financial_connections.*")
    assert page["data"]
    assert errors_against(list_of("event"), page) == []
    assert_valid("event", read("GET", f"/v1/events/{page['data'][0]['id']}"))
    endpoints = read("GET", "/v1/webhook_endpoints")
    assert errors_against(list_of("webhook_endpoint"), endpoints) == []


def test_the_validator_sees_what_the_issue_found() -> None:
    """The shapes the simulator used to serve fail: a null optional field, a filters without
    its required keys, a setup_intent without allowed_payment_method_types."""
    session = {
        "id": "fcsess_1", "object": "financial_connections.session", "account_holder": None,
        "accounts": {"object": "list", "data": [], "has_more": False, "url": ACCOUNTS},
        "client_secret": None, "livemode": False, "permissions": [], "prefetch": None,
    }  # fmt: skip
    assert errors("financial_connections.session", session) == []
    assert errors("financial_connections.session", {**session, "limits": None})
    assert errors("financial_connections.session", {**session, "relink_result": None})
    assert errors("financial_connections.session", {**session, "filters": {}})
    assert errors("financial_connections.session", {**session, "surprise": 1})
