"""On a Connect platform the Customer, its PaymentMethods and Subscriptions live on the
connected account of the case: every call of the switch carries its Stripe-Account."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from shared.db import get_engine
from shared.delivery import DeliveryStatus
from shared.models import RelinkCase
from shared.payments.switch_models import PaymentMethodSwitch
from sim.testing import SimServer
from tests.payments.conftest import configure
from worker.payments import service


def test_a_connected_accounts_customer_is_switched_on_that_account_only(
    db: None, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, payment_method_switch="customer_default,subscriptions")
    acct = sim.client.create_connected_account("platform@example.com")["id"]
    on_acct = sim.client.on_account(acct)
    customer = on_acct.create_customer("ada@example.com")["id"]
    auth = on_acct.create_authorization(
        {"type": "customer", "customer": customer}, n_accounts=2, permissions=["payment_method"]
    )
    broken, fresh = auth["accounts"]
    old = on_acct.create_payment_method(broken, customer)["id"]
    new = on_acct.create_payment_method(fresh, customer)["id"]
    subscription = on_acct.create_subscription(customer, old)["id"]
    with Session(get_engine()) as session:
        case = RelinkCase(authorization_id=auth["id"], account_id=broken, stripe_account=acct)
        session.add(case)
        session.flush()
        assert case.id is not None
        row = PaymentMethodSwitch(
            case_id=case.id, payment_method_id=new, old_account_id=broken, customer_id=customer
        )
        session.add(row)
        session.commit()
        assert row.id is not None
        switch_id = row.id
    sim.client.clear_requests()

    assert service.switch_payment_method(switch_id) == DeliveryStatus.SWITCHED

    assert on_acct.customer(customer)["invoice_settings"]["default_payment_method"] == new
    assert on_acct.subscription(subscription)["default_payment_method"] == new
    made = sim.client.requests("/v1/")
    assert [r["route"] for r in made] == [
        "POST /v1/customers/{id}",
        "GET /v1/payment_methods",
        "GET /v1/subscriptions",
        "POST /v1/subscriptions/{id}",
    ]
    assert {r["stripe_account"] for r in made} == {acct}
