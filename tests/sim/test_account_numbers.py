"""Tokenized account numbers in the simulator: the expiry warning, a deactivated number
blocking the account's PaymentMethods, and a relink issuing a fresh one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import stripe

from sim.client import SimControlError
from sim.testing import SimServer
from tests.sim.conftest import PREVIEW

EXPIRY = "financial_connections.account.upcoming_account_number_expiry"
UPDATED = "financial_connections.account.account_numbers_updated"


def test_an_expiring_number_then_a_deactivated_one_then_a_relink(
    sim: SimServer, sdk: Callable[..., stripe.StripeClient]
) -> None:
    customer = sim.client.create_customer()["id"]
    auth = sim.client.create_authorization({"type": "customer", "customer": customer})
    fca = auth["accounts"][0]
    pm = sim.client.create_payment_method(fca, customer)["id"]

    warned = sim.client.mark_account_number_expiry(fca, expected_expiry_date=2_000_000_000)
    assert warned["account_numbers"][0]["status"] == "transactable"
    assert warned["account_numbers"][0]["expected_expiry_date"] == 2_000_000_000
    assert [e["type"] for e in sim.client.events()][-1] == EXPIRY

    sim.client.set_account_number_status(fca, "deactivated")
    assert sim.client.events()[-1]["type"] == UPDATED
    blocked = sim.client.payment_method(pm)["us_bank_account"]["status_details"]
    assert blocked == {
        "blocked": {"network_code": None, "reason": "tokenized_account_number_deactivated"}
    }
    live = sdk(PREVIEW).v1.financial_connections.accounts.retrieve(fca)
    assert live.status == "active"  # the account still shares data; its number moves no money
    assert live.account_numbers is not None
    assert live.account_numbers[0].status == "deactivated"

    session = sdk(PREVIEW).v1.financial_connections.sessions.create(
        params={  # type: ignore[typeddict-unknown-key]
            "permissions": ["payment_method"],
            "relink_options": {"authorization": auth["id"], "account": fca},
        }
    )
    sim.client.complete_session(session.id, "success")
    refreshed = sdk(PREVIEW).v1.financial_connections.accounts.retrieve(fca)
    assert refreshed.account_numbers is not None
    number = refreshed.account_numbers[0]
    assert (number.status, number.expected_expiry_date) == ("transactable", None)
    assert sim.client.events()[-1]["type"] == UPDATED
    assert sim.client.payment_method(pm)["us_bank_account"]["status_details"] == {}


def test_numbers_need_the_payment_method_permission_and_a_known_status(sim: SimServer) -> None:
    customer = sim.client.create_customer()["id"]
    auth = sim.client.create_authorization(
        {"type": "customer", "customer": customer},
        accounts=[{"subcategory": "checking", "permissions": ["balances"]}],
    )
    with pytest.raises(SimControlError):
        sim.client.mark_account_number_expiry(auth["accounts"][0])
    with pytest.raises(SimControlError):
        sim.client.set_account_number_status(auth["accounts"][0], "transactable")
    other = sim.client.create_authorization({"type": "customer", "customer": customer})
    with pytest.raises(SimControlError):
        sim.client.set_account_number_status(other["accounts"][0], "gone")
