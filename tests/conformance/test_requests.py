"""Every request relink's own Stripe call functions send (shared/stripe_client.py,
worker/stripe_payments.py, and the relink page's session and SetupIntent parameters) is valid
against Stripe's request schema: captured as the simulator received and logged it (decoded
from the form), typed as Stripe reads a form, and validated with unknown parameters at any
depth refused, as Stripe refuses them with 400 parameter_unknown."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from api.relink_page.fc_sessions import (
    any_account_session_params,
    hosted_params,
    online_acceptance,
    relink_session_params,
    setup_intent_params,
)
from shared import stripe_client
from shared.cases.links import LinkPayload
from shared.models import FcAccount
from shared.stripe_objects import AccountSnapshot
from sim.testing import SimServer
from tests.conformance.requests_schema import ROUTES, assert_requests_conform, request_errors
from worker import stripe_payments

RETURN = "https://relink.example/relink/token/return"


def logged(sim: SimServer) -> list[dict[str, Any]]:
    return sim.client.requests("/v1/")


def broken_world(sim: SimServer) -> tuple[str, dict[str, Any], FcAccount]:
    customer = sim.client.create_customer("ada@example.com")["id"]
    auth = sim.client.create_authorization(
        {"type": "customer", "customer": customer}, institution="StripeBank", n_accounts=1
    )
    sim.client.deactivate_authorization(auth["id"])
    (account_id,) = auth["accounts"]
    stored = FcAccount(
        id=account_id,
        authorization_id=auth["id"],
        holder_type="customer",
        holder_id=customer,
        status="inactive",
        permissions=["payment_method", "balances"],
    )
    return customer, auth, stored


def test_every_call_relink_makes_is_spec_valid(sim: SimServer, client: stripe.StripeClient) -> None:
    customer, auth, stored = broken_world(sim)
    payload = LinkPayload(case_id=1, account_id=stored.id, authorization_id=auth["id"])
    live = AccountSnapshot.parse(stripe_client.retrieve_account(client, stored.id))
    stripe_client.retrieve_authorization(client, auth["id"])
    stripe_client.list_holder_accounts(client, "customer", customer)
    events, _ = stripe_client.list_events_page(client, created_gte=0)
    stripe_client.list_events_page(client, created_gte=0, starting_after=events[0]["id"], limit=10)
    stripe_client.list_webhook_endpoints(client)
    stripe_client.retrieve_customer_name(client, customer)
    stripe_client.retrieve_holder(client, "customer", customer)

    sessions = [
        relink_session_params(payload, live, stored),
        any_account_session_params(auth["id"], stored),
        relink_session_params(payload, live, stored) | hosted_params(RETURN),
        any_account_session_params(auth["id"], stored) | hosted_params(RETURN),
    ]
    created = [
        stripe_client.create_fc_session(client, params, idempotency_key=f"k-{n}")
        for n, params in enumerate(sessions)
    ]
    for session in created:
        stripe_client.retrieve_fc_session(client, session["id"])
    sim.client.complete_session(
        created[1]["id"], "new_account", new_accounts=[{"subcategory": "savings"}]
    )
    linked = stripe_client.retrieve_fc_session(client, created[1]["id"])["accounts"]["data"][0]
    plain = setup_intent_params(linked["id"], "Ada Lovelace", stored)
    accepted = setup_intent_params(
        linked["id"], "Ada Lovelace", stored, online_acceptance("203.0.113.7", "Mozilla/5.0")
    )
    for n, params in enumerate((plain, accepted)):
        intent = stripe_client.create_setup_intent(client, params, idempotency_key=f"s-{n}")
        stripe_client.retrieve_setup_intent(client, intent["id"])

    new_pm = str(intent["payment_method"])
    subscription = sim.client.create_subscription(customer, new_pm, "active")["id"]
    stripe_payments.list_bank_payment_methods(client, customer)
    stripe_payments.list_subscriptions(client, customer)
    stripe_payments.set_default_payment_method(client, customer, new_pm, idempotency_key="d")
    assert stripe_payments.customer_default_payment_method(client, customer) == new_pm
    stripe_payments.set_subscription_payment_method(
        client, subscription, new_pm, idempotency_key="s"
    )
    stripe_payments.clear_subscription_payment_method(client, subscription, idempotency_key="c")
    old_pm = sim.client.create_payment_method(stored.id, customer)["id"]
    failed = sim.client.create_invoice(customer, 1000, failed_on=old_pm)["id"]
    stripe_payments.list_open_invoices(client, customer)
    stripe_payments.retrieve_invoice(client, failed)
    stripe_payments.pay_invoice(client, failed, old_pm, idempotency_key="p")
    stripe_payments.detach_payment_method(client, new_pm, idempotency_key="x")

    assert all(r["status"] == 200 for r in logged(sim)), [
        (r["route"], r["status"]) for r in logged(sim) if r["status"] != 200
    ]
    routes = assert_requests_conform(sim)
    assert routes == set(ROUTES) - {"GET /v1/accounts/{id}"}  # the next test has that one


def test_a_connected_accounts_email_lookup_is_spec_valid(
    sim: SimServer, client: stripe.StripeClient
) -> None:
    account = sim.client.create_connected_account("owner@example.com")["id"]
    assert stripe_client.retrieve_holder(client, "account", account).email == "owner@example.com"
    assert stripe_client.retrieve_holder(client, "account", account).preferred_locales == ()
    assert assert_requests_conform(sim) == {"GET /v1/accounts/{id}"}


SESSION = "POST /v1/financial_connections/sessions"
GOOD = {"permissions": ["payment_method"], "relink_options": {"authorization": "fcauth_1"}}


@pytest.mark.parametrize(
    ("route", "params", "complaint"),
    [
        # an unknown parameter, at the top and nested (relink's old hosted mode)
        (SESSION, {**GOOD, "surprise": "1"}, "'surprise' was unexpected"),
        (SESSION, {**GOOD, "hosted": {"return_url": RETURN}}, "'return_url' was unexpected"),
        # a wrong type: a form value that is not the integer or array the schema wants
        (SESSION, {**GOOD, "limits": {"accounts": "one"}}, "limits/accounts"),
        (SESSION, {**GOOD, "permissions": "payment_method"}, "is not of type 'array'"),
        # a value outside an enum
        (SESSION, {**GOOD, "permissions": ["everything"]}, "'everything' is not one of"),
        (SESSION, {**GOOD, "ui_mode": "window"}, "'window' is not one of"),
        (
            "POST /v1/setup_intents",
            {"payment_method_data": {"type": "us_bank_account", "bank": "x"}},
            "'bank' was unexpected",
        ),
        (
            "POST /v1/customers/{id}",
            {"invoice_settings": {"default_paymentmethod": "pm_1"}},
            "'default_paymentmethod' was unexpected",
        ),
        ("GET /v1/events", {"limit": "many"}, "limit"),
        ("GET /v1/customers/{id}", {"expand": ["sources"], "extra": "1"}, "'extra'"),
        ("POST /v1/charges", {}, "no request schema"),
    ],
)
def test_the_validator_refuses_unknown_parameters_wrong_types_and_values_outside_enums(
    route: str, params: dict[str, Any], complaint: str
) -> None:
    found = request_errors(route, params)
    assert found, f"{route} {params} passed"
    assert any(complaint in e for e in found), found


def test_what_relink_sends_passes_as_the_form_decodes_it() -> None:
    """The same parameters pass once typed from the form ("1" is the integer limits wants)."""
    assert request_errors(SESSION, {**GOOD, "limits": {"accounts": "1"}}) == []
    assert request_errors("GET /v1/events", {"limit": "100", "created": {"gte": "5"}}) == []
