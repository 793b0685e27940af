"""PaymentMethods, a Customer's invoice default and Subscriptions through the real SDK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from sim.client import SimControlError
from sim.testing import SimServer
from tests.sim.conftest import PREVIEW

SdkFactory = Callable[..., stripe.StripeClient]


def test_a_confirmed_setup_intent_leaves_an_attached_us_bank_account_payment_method(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    fca = authorization["accounts"][0]
    client = sdk(PREVIEW)
    intent = client.v1.setup_intents.create(
        params={
            "customer": customer["id"],
            "confirm": True,
            "payment_method_data": {
                "type": "us_bank_account",
                "us_bank_account": {"financial_connections_account": fca},
                "billing_details": {"name": "Ada"},
            },
        }
    )
    listed = client.v1.payment_methods.list(
        params={"customer": customer["id"], "type": "us_bank_account"}
    ).to_dict()
    [pm] = listed["data"]
    assert pm["id"] == intent.payment_method
    assert pm["object"] == "payment_method"
    assert pm["type"] == "us_bank_account"
    assert pm["customer"] == customer["id"]
    assert pm["us_bank_account"]["financial_connections_account"] == fca
    assert pm["us_bank_account"]["last4"] == "6789"
    nested = client.v1.customers.payment_methods.list(customer["id"]).to_dict()
    assert [p["id"] for p in nested["data"]] == [pm["id"]]


def test_the_invoice_default_takes_only_a_payment_method_attached_to_the_customer(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    fca = authorization["accounts"][0]
    mine = sim.client.create_payment_method(fca, customer["id"])
    loose = sim.client.create_payment_method(fca)
    client = sdk()
    updated = client.v1.customers.update(
        customer["id"], params={"invoice_settings": {"default_payment_method": mine["id"]}}
    )
    assert updated.to_dict()["invoice_settings"]["default_payment_method"] == mine["id"]
    for pm_id in (loose["id"], "pm_unknown"):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.customers.update(
                customer["id"], params={"invoice_settings": {"default_payment_method": pm_id}}
            )
        assert refused.value.http_status == 400
        assert refused.value.code == "resource_missing"
        assert refused.value.param == "invoice_settings[default_payment_method]"
    assert (
        sim.client.customer(customer["id"])["invoice_settings"]["default_payment_method"]
        == (mine["id"])
    )


def test_subscriptions_list_without_canceled_by_default_and_update_their_default(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    fca = authorization["accounts"][0]
    old = sim.client.create_payment_method(fca, customer["id"])["id"]
    new = sim.client.create_payment_method(fca, customer["id"])["id"]
    active = sim.client.create_subscription(customer["id"], old)["id"]
    canceled = sim.client.create_subscription(customer["id"], old, status="canceled")["id"]
    expired = sim.client.create_subscription(customer["id"], old, "incomplete_expired")["id"]
    client = sdk()
    listed = client.v1.subscriptions.list(params={"customer": customer["id"]}).to_dict()
    assert [s["id"] for s in listed["data"]] == [expired, active]  # newest first, not canceled
    every = client.v1.subscriptions.list(params={"customer": customer["id"], "status": "all"})
    assert {s.id for s in every.data} == {active, canceled, expired}
    moved = client.v1.subscriptions.update(active, params={"default_payment_method": new})
    assert moved.default_payment_method == new
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(canceled, params={"default_payment_method": new})
    with pytest.raises(stripe.InvalidRequestError) as bad_status:
        client.v1.subscriptions.list(params={"status": "sleeping"})  # type: ignore[typeddict-item]
    assert bad_status.value.param == "status"


def test_detaching_a_payment_method_clears_what_defaulted_to_it(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    pm = sim.client.create_payment_method(authorization["accounts"][0], customer["id"])["id"]
    subscription = sim.client.create_subscription(customer["id"], pm)["id"]
    client = sdk()
    detached = client.v1.payment_methods.detach(pm)
    assert detached.customer is None
    assert sim.client.subscription(subscription)["default_payment_method"] is None
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.payment_methods.detach(pm)
    assert again.value.code == "payment_method_unexpected_state"


@pytest.mark.parametrize("clears", [True, False])
def test_detach_keeps_or_clears_the_defaults_naming_it_as_the_behaviour_says(
    sim: SimServer, sdk: Callable[..., stripe.StripeClient], clears: bool
) -> None:
    """Stripe does not document it: `detach_clears_defaults` picks the reading."""
    assert (
        sim.client.set_behaviours(detach_clears_defaults=clears)["detach_clears_defaults"] is clears
    )
    customer = sim.client.create_customer()["id"]
    auth = sim.client.create_authorization({"type": "customer", "customer": customer})
    pm = sim.client.create_payment_method(auth["accounts"][0], customer)["id"]
    sub = sim.client.create_subscription(customer, pm, "active")["id"]
    client = sdk(PREVIEW)
    client.v1.customers.update(
        customer, params={"invoice_settings": {"default_payment_method": pm}}
    )
    client.v1.payment_methods.detach(pm)
    left = None if clears else pm
    assert sim.client.customer(customer)["invoice_settings"]["default_payment_method"] == left
    assert sim.client.subscription(sub)["default_payment_method"] == left


@pytest.mark.parametrize("reactivates", [True, False])
def test_a_new_account_relink_reactivates_the_old_accounts_or_leaves_them(
    sim: SimServer, sdk: Callable[..., stripe.StripeClient], reactivates: bool
) -> None:
    sim.client.set_behaviours(new_account_reactivates_old=reactivates)
    customer = sim.client.create_customer()["id"]
    auth = sim.client.create_authorization({"type": "customer", "customer": customer})
    sim.client.deactivate_authorization(auth["id"])
    session = sdk(PREVIEW).v1.financial_connections.sessions.create(
        params={  # type: ignore[typeddict-unknown-key]
            "permissions": ["payment_method"],
            "relink_options": {"authorization": auth["id"]},
        }
    )
    sim.client.complete_session(session.id, "new_account")
    old = sdk(PREVIEW).v1.financial_connections.accounts.retrieve(auth["accounts"][0])
    assert old.status == ("active" if reactivates else "inactive")
    with pytest.raises(SimControlError):
        sim.client.set_behaviours(detach_clears_defaults="yes")  # type: ignore[arg-type]
