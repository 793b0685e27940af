"""Connect on the API: the optional `Stripe-Account` header names the connected account a
call acts within (absent: the platform's own objects). The same ids on the platform and on
two connected accounts stay apart on every endpoint; a bad header is a 400 in the API's one
error shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from shared.db import session_scope
from shared.models import Contact, FcAccount, WebhookEvent
from tests.platform_api.conftest import add_case

Keys = dict[str, dict[str, str]]
A, B = "acct_1Alpha", "acct_1Bravo"
ROUTES = [  # every /api/v1 route: method, path, JSON body
    ("GET", "/api/v1/cases", None),
    ("GET", "/api/v1/cases/1", None),
    ("GET", "/api/v1/accounts/fca_x1", None),
    ("POST", "/api/v1/cases/1/links", None),
    ("POST", "/api/v1/cases/1/resend", None),
    ("PUT", "/api/v1/contacts/customer/cus_x", {"email": "x@example.com"}),
    ("GET", "/api/v1/contacts/customer/cus_x", None),
    ("DELETE", "/api/v1/contacts/customer/cus_x", None),
]


def on(keys: Keys, account: str | None, scope: str = "all") -> dict[str, str]:
    return {**keys[scope], "Stripe-Account": account} if account else keys[scope]


def case_ids(api: TestClient, keys: Keys, account: str | None, **params: Any) -> list[int]:
    response = api.get("/api/v1/cases", params=params, headers=on(keys, account))
    assert response.status_code == 200, response.text
    return [case["id"] for case in response.json()["data"]]


def test_every_route_documents_the_stripe_account_header_and_the_400() -> None:
    from api.app import create_app

    schema = create_app().openapi()
    for method, path, _ in ROUTES:
        template = path.replace("/1/", "/{case_id}/").replace("fca_x1", "{account_id}")
        template = template.replace("/cases/1", "/cases/{case_id}")
        template = template.replace("customer/cus_x", "{subject_type}/{subject_id}")
        operation = schema["paths"][template][method.lower()]
        [header] = [p for p in operation["parameters"] if p["in"] == "header"]
        assert (header["name"], header["required"]) == ("Stripe-Account", False)
        assert header["schema"]["anyOf"][0]["pattern"] == "^acct_[A-Za-z0-9]{1,250}$"
        assert "400" in operation["responses"], (method, template)


@pytest.mark.parametrize(
    "value", ["", "acct_", "cus_1Alpha", "ACCT_1Alpha", "acct_1-Alpha", "acct_1 Alpha", "acct_1_x"]
)
def test_a_bad_stripe_account_header_is_a_400_in_the_error_shape_on_every_route(
    api: TestClient, keys: Keys, value: str
) -> None:
    for method, path, body in ROUTES:
        response = api.request(
            method, path, json=body, headers=on(keys, "x") | {"Stripe-Account": value}
        )
        assert response.status_code == 400, (method, path, response.text)
        assert response.json()["error"]["code"] == "invalid_stripe_account"
        assert set(response.json()) == {"error"}
        assert set(response.json()["error"]) == {"type", "code", "message", "param"}
        assert response.json()["error"]["type"] == "invalid_request_error"
    with session_scope() as session:  # the refused PUTs wrote nothing
        assert session.exec(select(Contact)).all() == []


def test_the_header_is_checked_only_after_the_key(api: TestClient) -> None:
    response = api.get("/api/v1/cases", headers={"Stripe-Account": "nonsense"})
    assert response.status_code == 401


def test_cases_are_listed_and_read_within_one_stripe_account(api: TestClient, keys: Keys) -> None:
    mine = add_case("fcauth_same", holder=("customer", "cus_ada"))
    alpha = add_case("fcauth_same", holder=("customer", "cus_ada"), stripe_account=A)
    bravo = add_case("fcauth_same", holder=("account", "acct_shop"), stripe_account=B)

    assert case_ids(api, keys, None) == [mine]
    assert case_ids(api, keys, A) == [alpha]
    assert case_ids(api, keys, B) == [bravo]
    assert case_ids(api, keys, "acct_1Nobody") == []
    # the holder filters name the account's own holder
    assert case_ids(api, keys, None, customer="cus_ada") == [mine]
    assert case_ids(api, keys, A, customer="cus_ada") == [alpha]
    assert case_ids(api, keys, B, customer="cus_ada") == []
    assert case_ids(api, keys, B, connected_account="acct_shop") == [bravo]
    assert case_ids(api, keys, None, connected_account="acct_shop") == []
    assert case_ids(api, keys, A, authorization="fcauth_same", institution="stripebank") == [alpha]

    [listed] = api.get("/api/v1/cases", headers=on(keys, A)).json()["data"]
    assert (listed["stripe_account"], listed["holder"]) == (
        A,
        {"type": "customer", "id": "cus_ada"},
    )
    detail = api.get(f"/api/v1/cases/{bravo}", headers=on(keys, B)).json()
    assert detail["stripe_account"] == B
    assert detail["holder"] == {"type": "account", "id": "acct_shop"}
    assert [a["id"] for a in detail["accounts"]] == ["fca_same1", "fca_same2"]
    assert all(a["open_case_id"] == bravo for a in detail["accounts"])

    # another account's case is not found, as Stripe answers, on every case route
    for case_id, account in ((mine, A), (alpha, None), (alpha, B), (bravo, A)):
        for method, path in (
            ("GET", f"/api/v1/cases/{case_id}"),
            ("POST", f"/api/v1/cases/{case_id}/links"),
            ("POST", f"/api/v1/cases/{case_id}/resend"),
        ):
            response = api.request(method, path, headers=on(keys, account))
            assert response.status_code == 404, (method, path, account)
            assert response.json() == {
                "error": {
                    "type": "invalid_request_error",
                    "code": "not_found",
                    "message": f"no case {case_id}",
                    "param": None,
                }
            }


def test_a_case_timeline_lists_only_its_own_accounts_events(api: TestClient, keys: Keys) -> None:
    """L6: acct_A's case listed acct_B's events naming the same ids."""
    alpha = add_case("fcauth_tl", stripe_account=A)
    add_case("fcauth_tl", stripe_account=B)
    mine = add_case("fcauth_tl")
    with session_scope() as session:
        for event_id, account in (("evt_a", A), ("evt_b", B), ("evt_p", None)):
            payload = json.dumps({"id": event_id, "data": {"object": {"id": "fca_tl1"}}})
            session.add(
                WebhookEvent(
                    id=event_id,
                    type="financial_connections.account.deactivated",
                    livemode=False,
                    created=1,
                    account=account,
                    payload=payload,
                )
            )

    def events(case_id: int, account: str | None) -> list[str]:
        detail = api.get(f"/api/v1/cases/{case_id}", headers=on(keys, account)).json()
        return [entry["id"] for entry in detail["timeline"] if entry["kind"] == "event"]

    assert events(alpha, A) == ["evt_a"]
    assert events(mine, None) == ["evt_p"]


def test_an_accounts_standing_is_read_within_one_stripe_account(
    api: TestClient, keys: Keys
) -> None:
    mine = add_case("fcauth_s")
    alpha = add_case("fcauth_s", stripe_account=A)
    with session_scope() as session:  # the platform's fca_s1 is back; A's is still broken
        account = session.get(FcAccount, ("fca_s1", ""))
        assert account is not None
        account.status, account.inactive_action, account.inactive_cause = "active", None, None
        session.add(account)

    platform = api.get("/api/v1/accounts/fca_s1", headers=keys["read"]).json()
    connected = api.get("/api/v1/accounts/fca_s1", headers=on(keys, A, "read")).json()
    assert (platform["standing"], platform["open_case_id"]) == ("active", mine)
    assert (connected["standing"], connected["needs_relink"]) == ("inactive", True)
    assert connected["open_case_id"] == alpha
    missing = api.get("/api/v1/accounts/fca_s1", headers=on(keys, B, "read"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_contacts_are_set_read_and_deleted_within_one_stripe_account(
    api: TestClient, keys: Keys
) -> None:
    path = "/api/v1/contacts/customer/cus_ada"
    for account, email in ((None, "mine@example.com"), (A, "alpha@example.com")):
        response = api.put(path, json={"email": email}, headers=on(keys, account))
        assert response.status_code == 200, response.text
    assert api.get(path, headers=on(keys, None)).json()["email"] == "mine@example.com"
    assert api.get(path, headers=on(keys, A)).json()["email"] == "alpha@example.com"
    assert api.get(path, headers=on(keys, B)).status_code == 404
    replaced = api.put(path, json={"email": "alpha2@example.com"}, headers=on(keys, A))
    assert replaced.json()["email"] == "alpha2@example.com"
    with session_scope() as session:
        rows = session.exec(select(Contact).order_by(Contact.stripe_account)).all()
        assert [(c.stripe_account, c.email) for c in rows] == [
            ("", "mine@example.com"),
            (A, "alpha2@example.com"),
        ]

    assert api.delete(path, headers=on(keys, B)).status_code == 404
    assert api.delete(path, headers=on(keys, A)).status_code == 204
    assert api.get(path, headers=on(keys, A)).status_code == 404
    assert api.get(path, headers=on(keys, None)).json()["email"] == "mine@example.com"


def test_an_fc_account_contact_is_checked_against_that_stripe_accounts_account(
    api: TestClient, keys: Keys
) -> None:
    add_case("fcauth_o", holder=None, stripe_account=A)  # holder-less on A only
    add_case("fcauth_o", holder=("customer", "cus_o"), stripe_account=B)  # held on B
    path = "/api/v1/contacts/fc_account/fca_o1"
    body = {"email": "owner@example.com"}
    assert api.put(path, json=body, headers=on(keys, None)).status_code == 404
    held = api.put(path, json=body, headers=on(keys, B))
    assert (held.status_code, held.json()["error"]["code"]) == (409, "has_holder")
    assert api.put(path, json=body, headers=on(keys, A)).status_code == 200
    assert api.get(path, headers=on(keys, A)).json()["email"] == "owner@example.com"
    assert api.get(path, headers=on(keys, None)).status_code == 404
