"""Control verbs: deactivation, upcoming deactivation, disconnects and relink outcomes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import stripe

from sim.client import SimControlError
from sim.testing import SimServer
from tests.sim.conftest import PREVIEW

SdkFactory = Callable[..., stripe.StripeClient]


def types_after(sim: SimServer, count: int) -> list[str]:
    return [e["type"] for e in sim.client.events()[count:]]


def new_relink_session(
    sdk: SdkFactory, customer: dict[str, Any], auth: dict[str, Any], account: str | None = None
) -> Any:
    relink: dict[str, Any] = {"authorization": auth["id"]}
    if account:
        relink["account"] = account
    return sdk(PREVIEW).v1.financial_connections.sessions.create(
        params={
            "account_holder": {"type": "customer", "customer": customer["id"]},
            "permissions": ["payment_method"],
            "relink_options": relink,
        }
    )


def test_creating_an_authorization_announces_each_account(
    sim: SimServer, authorization: dict[str, Any]
) -> None:
    events = sim.client.events()
    assert [e["type"] for e in events] == ["financial_connections.account.created"] * 2
    assert [e["data"]["object"]["id"] for e in events] == authorization["accounts"]
    assert authorization["id"].startswith("fcauth_")


@pytest.mark.parametrize(
    "cause",
    [
        "access_denied",
        "access_expired",
        "account_closed",
        "account_unavailable",
        "institution_requirement",
        "unspecified",
    ],
)
def test_deactivating_an_authorization_deactivates_every_account(
    sim: SimServer, sdk: SdkFactory, authorization: dict[str, Any], cause: str
) -> None:
    before = len(sim.client.events())
    sim.client.deactivate_authorization(authorization["id"], cause=cause, action="relink_required")
    assert types_after(sim, before) == ["financial_connections.account.deactivated"] * 2
    client = sdk(PREVIEW)
    for fca in authorization["accounts"]:
        account = client.v1.financial_connections.accounts.retrieve(fca).to_dict()
        assert account["status"] == "inactive"
        assert account["status_details"]["inactive"] == {
            "action": "relink_required",
            "cause": cause,
        }
    raw = client.raw_request(
        "get", f"/v1/financial_connections/authorizations/{authorization['id']}"
    )
    auth = client.deserialize(raw, api_mode="V1").to_dict()
    assert auth["status"] == "inactive"
    assert auth["status_details"] == {"inactive": {"action": "relink_required"}}


def test_deactivating_twice_emits_one_event(sim: SimServer, authorization: dict[str, Any]) -> None:
    fca = authorization["accounts"][0]
    before = len(sim.client.events())
    sim.client.deactivate_account(fca)
    sim.client.deactivate_account(fca)
    assert types_after(sim, before) == ["financial_connections.account.deactivated"]


def test_unknown_cause_is_refused(sim: SimServer, authorization: dict[str, Any]) -> None:
    with pytest.raises(SimControlError) as raised:
        sim.client.deactivate_account(authorization["accounts"][0], cause="gremlins")
    assert raised.value.status == 400


def test_upcoming_deactivation_sets_active_details_and_events(
    sim: SimServer, sdk: SdkFactory, authorization: dict[str, Any]
) -> None:
    fca = authorization["accounts"][0]
    when = int(time.time()) + 30 * 86400
    before = len(sim.client.events())
    sim.client.mark_upcoming_deactivation(
        fca,
        cause="institution_requirement",
        action="relink_required",
        expected_deactivation_date=when,
    )
    assert types_after(sim, before) == [
        "financial_connections.account.expected_deactivation_date_updated",
        "financial_connections.account.upcoming_deactivation",
    ]
    account = sdk().v1.financial_connections.accounts.retrieve(fca).to_dict()
    assert account["status"] == "active"
    assert account["status_details"]["active"] == {
        "action": "relink_required",
        "cause": "institution_requirement",
        "expected_deactivation_date": when,
    }


def test_authorization_upcoming_deactivation_events_carry_the_authorization(
    sim: SimServer, authorization: dict[str, Any]
) -> None:
    before = len(sim.client.events())
    sim.client.mark_authorization_upcoming_deactivation(authorization["id"])
    events = sim.client.events()[before:]
    assert [e["type"] for e in events] == [
        "financial_connections.authorization.expected_deactivation_date_updated",
        "financial_connections.authorization.upcoming_deactivation",
    ]
    payload = events[-1]["data"]["object"]
    assert payload["object"] == "financial_connections.authorization"
    assert payload["status_details"]["active"]["action"] == "relink_required"


def test_disconnect(sim: SimServer, sdk: SdkFactory, authorization: dict[str, Any]) -> None:
    fca = authorization["accounts"][0]
    before = len(sim.client.events())
    sim.client.disconnect_account(fca)
    assert types_after(sim, before) == ["financial_connections.account.disconnected"]
    account = sdk(PREVIEW).v1.financial_connections.accounts.retrieve(fca)
    assert account.status == "disconnected"
    assert account.to_dict()["status_details"] == {}


def test_successful_relink_reactivates_all_accounts(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    fca = authorization["accounts"][0]
    sim.client.deactivate_authorization(authorization["id"], cause="access_expired")
    session = new_relink_session(sdk, customer, authorization, account=fca)
    before = len(sim.client.events())

    sim.client.complete_session(session.id, outcome="success")

    events = sim.client.events()[before:]
    assert [e["type"] for e in events] == ["financial_connections.account.reactivated"] * 2
    assert {e["data"]["object"]["id"] for e in events} == set(authorization["accounts"])
    client = sdk(PREVIEW)
    done = client.v1.financial_connections.sessions.retrieve(session.id).to_dict()
    assert done["status"] == "succeeded"
    assert done["relink_result"] == {
        "account": fca,
        "authorization": authorization["id"],
        "failure_reason": None,
    }
    assert [a["id"] for a in done["accounts"]["data"]] == [fca]
    for account_id in authorization["accounts"]:
        account = client.v1.financial_connections.accounts.retrieve(account_id).to_dict()
        assert account["status"] == "active"
        assert account["status_details"] == {}


def test_relink_without_account_has_no_result_account(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    sim.client.deactivate_authorization(authorization["id"])
    session = new_relink_session(sdk, customer, authorization)
    done = sim.client.complete_session(session.id)
    assert done["relink_result"] == {
        "account": None,
        "authorization": authorization["id"],
        "failure_reason": None,
    }
    assert {a["id"] for a in done["accounts"]["data"]} == set(authorization["accounts"])


@pytest.mark.parametrize("outcome", ["no_account", "no_authorization", "other"])
def test_failed_relink_leaves_accounts_inactive(
    sim: SimServer,
    sdk: SdkFactory,
    customer: dict[str, Any],
    authorization: dict[str, Any],
    outcome: str,
) -> None:
    sim.client.deactivate_authorization(authorization["id"])
    session = new_relink_session(sdk, customer, authorization, authorization["accounts"][0])
    before = len(sim.client.events())
    sim.client.complete_session(session.id, outcome=outcome)
    assert types_after(sim, before) == []
    done = sdk(PREVIEW).v1.financial_connections.sessions.retrieve(session.id).to_dict()
    assert done["status"] == "failed"
    assert done["relink_result"] == {
        "account": None,
        "authorization": None,
        "failure_reason": outcome,
    }
    account = sdk(PREVIEW).v1.financial_connections.accounts.retrieve(authorization["accounts"][0])
    assert account.status == "inactive"
    with pytest.raises(SimControlError):
        sim.client.complete_session(session.id)  # only a pending session can finish


def test_new_account_at_same_institution(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    sim.client.deactivate_authorization(authorization["id"])
    session = new_relink_session(sdk, customer, authorization)
    before = len(sim.client.events())
    done = sim.client.complete_session(
        session.id, outcome="new_account", new_accounts=[{"last4": "1111"}]
    )
    types = types_after(sim, before)
    assert types.count("financial_connections.account.reactivated") == 2
    assert types[-1] == "financial_connections.account.created"
    [linked] = done["accounts"]["data"]
    assert linked["id"] not in authorization["accounts"]
    assert linked["last4"] == "1111"
    assert linked["institution_name"] == "StripeBank"
    assert linked["authorization"] == authorization["id"]


def test_new_account_is_refused_when_an_account_is_pinned(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    session = new_relink_session(sdk, customer, authorization, authorization["accounts"][0])
    with pytest.raises(SimControlError):
        sim.client.complete_session(session.id, outcome="new_account")


def test_first_link_session_creates_an_authorization(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any]
) -> None:
    session = sdk(PREVIEW).v1.financial_connections.sessions.create(
        params={
            "account_holder": {"type": "customer", "customer": customer["id"]},
            "permissions": ["payment_method"],
        }
    )
    done = sim.client.complete_session(session.id, institution="Chase")
    [account] = done["accounts"]["data"]
    assert account["institution_name"] == "Chase"
    assert account["authorization"].startswith("fcauth_")
    assert "relink_result" not in done  # not a relink session: never one
    assert done["status"] == "succeeded"
