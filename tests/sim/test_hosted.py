"""Hosted sessions (`ui_mode=hosted`) through the real SDK, their hosted page over HTTP, and
SetupIntents confirmed with `mandate_data` by the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
import stripe

from sim.testing import SimServer
from tests.sim.conftest import GA, PREVIEW

SdkFactory = Callable[..., stripe.StripeClient]
RETURN = "https://relink.example/relink/token/return"


def relink_setup(sim: SimServer) -> dict[str, Any]:
    customer = sim.client.create_customer("ada@example.com")["id"]
    auth = sim.client.create_authorization(
        {"type": "customer", "customer": customer}, institution="Gringotts Bank", n_accounts=1
    )
    sim.client.deactivate_authorization(auth["id"])
    return auth


def create(sdk: SdkFactory, version: str, params: dict[str, Any]) -> dict[str, Any]:
    session = sdk(version).v1.financial_connections.sessions.create(
        params={"permissions": ["payment_method"], **params}  # type: ignore[typeddict-item]
    )
    return session.to_dict()


def test_a_hosted_session_has_a_url_whose_page_finishes_it_and_returns(
    sim: SimServer, sdk: SdkFactory
) -> None:
    auth = relink_setup(sim)
    session = create(
        sdk,
        PREVIEW,
        {
            "relink_options": {"authorization": auth["id"]},
            "ui_mode": "hosted",
            "hosted": {"delivery_method": "url"},
            "return_url": RETURN,
        },
    )
    assert session["ui_mode"] == "hosted"
    assert session["return_url"] == RETURN  # the create parameter, echoed
    assert session["hosted"] == {"delivery_method": "url", "return_url": RETURN}
    assert session["url"] == f"{sim.base_url}/_sim/hosted/{session['id']}"

    page = requests.get(session["url"], timeout=5)
    assert page.status_code == 200
    assert "Sign in to Gringotts Bank" in page.text
    assert session["client_secret"] not in page.text

    sim.client.set_session_scenario(session["id"], "no_account")
    done = requests.post(session["url"], allow_redirects=False, timeout=5)
    assert done.status_code == 303
    assert done.headers["location"] == RETURN
    read = sdk(PREVIEW).v1.financial_connections.sessions.retrieve(session["id"]).to_dict()
    assert read["status"] == "failed"
    assert read["relink_result"]["failure_reason"] == "no_account"
    # a finished session's page sends the browser straight back
    again = requests.get(session["url"], allow_redirects=False, timeout=5)
    assert (again.status_code, again.headers["location"]) == (303, RETURN)


def test_the_hosted_page_shows_a_scenario_error_and_leaves_the_session_open(
    sim: SimServer, sdk: SdkFactory
) -> None:
    auth = relink_setup(sim)
    session = create(
        sdk,
        PREVIEW,
        {
            "relink_options": {"authorization": auth["id"]},
            "ui_mode": "hosted",
            "return_url": RETURN,
        },
    )
    sim.client.set_session_scenario(session["id"], "error", message="Bank is down.")
    failed = requests.post(session["url"], allow_redirects=False, timeout=5)
    assert failed.status_code == 502
    assert "Bank is down." in failed.text
    assert sim.client.session(session["id"])["status"] == "pending"


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"ui_mode": "hosted"}, "return_url"),
        ({"ui_mode": "hosted", "return_url": "relink.example"}, "return_url"),
        ({"ui_mode": "modal", "hosted": {"delivery_method": "url"}}, "hosted"),
        ({"ui_mode": "window"}, "ui_mode"),
        ({"ui_mode": "hosted", "return_url": RETURN, "hosted": {"x": "1"}}, "hosted[x]"),
        (
            {"ui_mode": "hosted", "return_url": RETURN, "hosted": {"delivery_method": "url"}},
            "hosted[delivery_method]",  # only with relink_options
        ),
    ],
)
def test_hosted_parameters_are_checked(
    sim: SimServer, sdk: SdkFactory, params: dict[str, Any], param: str
) -> None:
    customer = sim.client.create_customer()["id"]
    holder = {"account_holder": {"type": "customer", "customer": customer}}
    with pytest.raises(stripe.InvalidRequestError) as refused:
        create(sdk, PREVIEW, {**holder, **params})
    assert refused.value.param == param


def test_hosted_is_a_preview_parameter(sim: SimServer, sdk: SdkFactory) -> None:
    customer = sim.client.create_customer()["id"]
    with pytest.raises(stripe.InvalidRequestError) as refused:
        create(
            sdk,
            GA,
            {
                "account_holder": {"type": "customer", "customer": customer},
                "ui_mode": "hosted",
                "return_url": RETURN,
            },
        )
    assert refused.value.code == "parameter_unknown"


def test_hosted_return_url_is_an_unknown_parameter_as_at_stripe(
    sim: SimServer, sdk: SdkFactory
) -> None:
    """No published spec has `hosted[return_url]`: Stripe answers 400 parameter_unknown."""
    auth = relink_setup(sim)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        create(
            sdk,
            PREVIEW,
            {
                "relink_options": {"authorization": auth["id"]},
                "ui_mode": "hosted",
                "return_url": RETURN,
                "hosted": {"delivery_method": "url", "return_url": RETURN},
            },
        )
    assert refused.value.http_status == 400
    assert (refused.value.code, refused.value.param) == ("parameter_unknown", "hosted[return_url]")


def new_account(sim: SimServer, sdk: SdkFactory) -> str:
    customer = sim.client.create_customer()["id"]
    session = create(sdk, PREVIEW, {"account_holder": {"type": "customer", "customer": customer}})
    sim.client.complete_session(session["id"], "success")
    return str(sim.client.session(session["id"])["accounts"]["data"][0]["id"])


def setup_params(fca: str, **extra: Any) -> dict[str, Any]:
    return {
        "payment_method_data": {
            "type": "us_bank_account",
            "us_bank_account": {"financial_connections_account": fca},
            "billing_details": {"name": "Ada Lovelace"},
        },
        **extra,
    }


def test_a_setup_intent_confirmed_with_an_online_mandate(sim: SimServer, sdk: SdkFactory) -> None:
    acceptance = {
        "type": "online",
        "online": {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0"},
    }
    intent = sdk(PREVIEW).v1.setup_intents.create(
        params=setup_params(  # type: ignore[arg-type]
            new_account(sim, sdk), confirm=True, mandate_data={"customer_acceptance": acceptance}
        )
    )
    assert intent.status == "succeeded"
    assert intent.mandate is not None
    assert sim.state.setup_intents[intent.id].customer_acceptance == acceptance


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        (
            {"mandate_data": {"customer_acceptance": {"type": "offline"}}},
            "mandate_data",  # without confirm
        ),
        (
            {"confirm": True, "mandate_data": {"customer_acceptance": {"type": "online"}}},
            "mandate_data[customer_acceptance][online]",
        ),
        (
            {
                "confirm": True,
                "mandate_data": {
                    "customer_acceptance": {
                        "type": "online",
                        "online": {"ip_address": "testclient", "user_agent": "x"},
                    }
                },
            },
            "mandate_data[customer_acceptance][online][ip_address]",
        ),
        (
            {
                "confirm": True,
                "mandate_data": {
                    "customer_acceptance": {"type": "online", "online": {"ip_address": "::1"}}
                },
            },
            "mandate_data[customer_acceptance][online][user_agent]",
        ),
    ],
)
def test_mandate_data_is_checked(
    sim: SimServer, sdk: SdkFactory, extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        sdk(PREVIEW).v1.setup_intents.create(
            params=setup_params(new_account(sim, sdk), **extra)  # type: ignore[arg-type]
        )
    assert refused.value.param == param
