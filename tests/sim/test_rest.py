"""The Stripe REST surface, seen through the real stripe-python SDK."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe

from sim.testing import SimServer
from tests.sim.conftest import GA, PREVIEW

FIXTURES = Path("/work/shared/fixtures")
SdkFactory = Callable[..., stripe.StripeClient]


def fixture_keys(name: str) -> set[str]:
    path = FIXTURES / name
    if not path.exists():  # the shared fixtures live outside the repo; keep a copy of the keys
        return set()
    return set(json.loads(path.read_text()))


ACCOUNT_KEYS = {
    "id", "object", "account_holder", "account_numbers", "balance", "balance_refresh",
    "category", "created", "display_name", "institution_name", "last4", "livemode",
    "ownership", "ownership_refresh", "permissions", "status", "status_details",
    "subcategory", "subscriptions", "supported_payment_method_types", "transaction_refresh",
}  # fmt: skip
SESSION_KEYS = {
    "id", "object", "account_holder", "accounts", "client_secret", "livemode", "manual_entry",
    "permissions", "prefetch",
}  # fmt: skip
SESSION_PREVIEW_KEYS = {"relink_options", "status", "hosted"}
UNSET_SESSION_KEYS = {"filters", "limits", "return_url", "relink_result", "status_details"}
"""Optional and never null in the spec: absent until they have a value."""


def relink_params(customer: dict[str, Any], auth: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "account_holder": {"type": "customer", "customer": customer["id"]},
        "permissions": ["payment_method", "balances"],
        "relink_options": {"authorization": auth["id"], **extra},
    }


# shapes and versions


def test_account_on_ga_version_has_no_preview_fields(
    sdk: SdkFactory, authorization: dict[str, Any]
) -> None:
    account = sdk(GA).v1.financial_connections.accounts.retrieve(authorization["accounts"][0])
    body = account.to_dict()
    assert isinstance(account, stripe.financial_connections.Account)
    assert set(body) >= ACCOUNT_KEYS
    assert fixture_keys("ga__financial_connections.account.json") <= set(body)
    assert "authorization" not in body
    assert body["object"] == "financial_connections.account"
    assert body["livemode"] is False
    assert body["id"].startswith("fca_")
    assert body["last4"] == "6789"
    assert body["institution_name"] == "StripeBank"
    assert body["account_holder"]["type"] == "customer"


def test_inactive_account_shows_cause_only_on_preview(
    sim: SimServer, sdk: SdkFactory, authorization: dict[str, Any]
) -> None:
    fca = authorization["accounts"][0]
    sim.client.deactivate_account(fca, cause="account_closed", action="none")

    preview = sdk(PREVIEW).v1.financial_connections.accounts.retrieve(fca).to_dict()
    ga = sdk(GA).v1.financial_connections.accounts.retrieve(fca).to_dict()

    assert preview["status"] == ga["status"] == "inactive"
    assert preview["status_details"] == {"inactive": {"action": "none", "cause": "account_closed"}}
    assert preview["authorization"] == authorization["id"]
    assert ga["status_details"] == {}
    assert preview["account_numbers"][0]["status"] == "deactivated"


def test_authorization_endpoint_is_preview_only(
    sdk: SdkFactory, authorization: dict[str, Any]
) -> None:
    path = f"/v1/financial_connections/authorizations/{authorization['id']}"
    client = sdk()
    response = client.raw_request("get", path, stripe_version=PREVIEW)
    auth = client.deserialize(response, api_mode="V1").to_dict()
    assert auth["object"] == "financial_connections.authorization"
    assert auth["status"] == "active"
    assert auth["account_holder"] == authorization["account_holder"]
    assert fixture_keys("beta__financial_connections.authorization.json") - {"id"} <= set(auth)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.raw_request("get", path, stripe_version=GA)
    assert raised.value.http_status == 404
    assert "Unrecognized request URL" in str(raised.value.user_message)


def test_session_create_preview_returns_relink_fields_and_client_secret(
    sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    fca = authorization["accounts"][0]
    session = sdk(PREVIEW).v1.financial_connections.sessions.create(
        params=relink_params(customer, authorization, account=fca)
    )
    body = session.to_dict()
    assert set(body) >= SESSION_KEYS | SESSION_PREVIEW_KEYS
    assert fixture_keys("beta__financial_connections.session.json") <= set(body)
    assert body["id"].startswith("fcsess_")
    assert body["client_secret"].startswith(body["id"] + "_secret_")
    assert body["relink_options"] == {"authorization": authorization["id"], "account": fca}
    assert not UNSET_SESSION_KEYS & set(body)  # no relink_result before the session ends
    assert body["status"] == "pending"
    assert body["accounts"] == {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": "/v1/financial_connections/accounts",
    }
    fetched = sdk(GA).v1.financial_connections.sessions.retrieve(session.id).to_dict()
    assert set(fetched) >= SESSION_KEYS
    assert not SESSION_PREVIEW_KEYS & set(fetched)


def test_relink_options_are_unknown_on_ga(
    sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk(GA).v1.financial_connections.sessions.create(
            params=relink_params(customer, authorization)
        )
    assert raised.value.code == "parameter_unknown"
    assert raised.value.param == "relink_options"


def test_sdk_sends_indexed_arrays_and_nested_hashes(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    sdk(PREVIEW).v1.financial_connections.sessions.create(
        params={
            **relink_params(customer, authorization),
            "filters": {"account_subcategories": ["checking", "savings"]},
            "limits": {"accounts": 1},
        }
    )
    [logged] = sim.client.requests("/v1/financial_connections/sessions")
    assert logged["method"] == "POST"
    assert logged["stripe_version"] == PREVIEW
    assert logged["idempotency_key"]  # the SDK adds one to every POST
    assert logged["params"] == {
        "account_holder": {"type": "customer", "customer": customer["id"]},
        "permissions": ["payment_method", "balances"],
        "relink_options": {"authorization": authorization["id"]},
        "filters": {"account_subcategories": ["checking", "savings"]},
        "limits": {"accounts": "1"},
    }


# validations


def test_relink_account_must_belong_to_the_authorization(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    other = sim.client.create_authorization({"type": "customer", "customer": customer["id"]})
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk(PREVIEW).v1.financial_connections.sessions.create(
            params=relink_params(customer, authorization, account=other["accounts"][0])
        )
    assert raised.value.http_status == 400
    assert raised.value.param == "relink_options[account]"


@pytest.mark.parametrize(
    ("change", "status", "code", "param"),
    [
        ({"permissions": None}, 400, "parameter_missing", "permissions"),
        ({"permissions": ""}, 400, "parameter_invalid_empty", "permissions"),
        ({"permissions": ["everything"]}, 400, None, "permissions[0]"),
        (
            {"relink_options": {"authorization": "fcauth_missing"}},
            404,
            "resource_missing",
            "relink_options[authorization]",
        ),
        (
            {"account_holder": {"type": "customer", "customer": "cus_missing"}},
            404,
            "resource_missing",
            "account_holder[customer]",
        ),
        ({"surprise": "1"}, 400, "parameter_unknown", "surprise"),
    ],
)
def test_session_create_validations(
    sdk: SdkFactory,
    customer: dict[str, Any],
    authorization: dict[str, Any],
    change: dict[str, Any],
    status: int,
    code: str | None,
    param: str,
) -> None:
    params = {**relink_params(customer, authorization), **change}
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk(PREVIEW).v1.financial_connections.sessions.create(params=params)
    assert raised.value.http_status == status
    assert raised.value.code == code
    assert raised.value.param == param


def test_ga_session_requires_account_holder(sdk: SdkFactory) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk(GA).v1.financial_connections.sessions.create(params={"permissions": ["balances"]})
    assert raised.value.code == "parameter_missing"
    assert raised.value.param == "account_holder"


# errors


def test_unknown_ids_are_404_resource_missing(sdk: SdkFactory) -> None:
    client = sdk(PREVIEW)
    calls: list[Callable[[], object]] = [
        lambda: client.v1.financial_connections.accounts.retrieve("fca_nope"),
        lambda: client.v1.financial_connections.sessions.retrieve("fcsess_nope"),
        lambda: client.v1.customers.retrieve("cus_nope"),
        lambda: client.v1.events.retrieve("evt_nope"),
    ]
    for call in calls:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            call()
        assert raised.value.http_status == 404
        assert raised.value.code == "resource_missing"
        assert raised.value.request_id.startswith("req_")


@pytest.mark.parametrize("key", ["sk_live_nope", "pk_test_nope", "rk_test_x"])
def test_keys_other_than_sk_test_are_401(sdk: SdkFactory, key: str) -> None:
    with pytest.raises(stripe.AuthenticationError) as raised:
        sdk(GA, api_key=key).v1.customers.retrieve("cus_x")
    assert raised.value.http_status == 401


def test_missing_key_is_401_and_basic_auth_works(sim: SimServer, customer: dict[str, Any]) -> None:
    url = f"{sim.base_url}/v1/customers/{customer['id']}"
    anonymous = requests.get(url, timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "invalid_request_error"
    basic = requests.get(url, auth=(sim.api_key, ""), timeout=5)
    assert basic.status_code == 200
    assert basic.json()["email"] == "holder@example.com"
    assert basic.headers["Request-Id"].startswith("req_")


# idempotency


def test_same_idempotency_key_replays_the_stored_response(
    sim: SimServer, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    url = f"{sim.base_url}/v1/financial_connections/sessions"
    headers = {
        "Authorization": f"Bearer {sim.api_key}",
        "Stripe-Version": PREVIEW,
        "Idempotency-Key": "relink-case-1",
    }
    form = {
        "account_holder[type]": "customer",
        "account_holder[customer]": customer["id"],
        "permissions[0]": "payment_method",
        "relink_options[authorization]": authorization["id"],
    }
    first = requests.post(url, data=form, headers=headers, timeout=5)
    second = requests.post(url, data=form, headers=headers, timeout=5)
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers

    changed = requests.post(
        url, data={**form, "permissions[0]": "balances"}, headers=headers, timeout=5
    )
    assert changed.status_code == 400
    assert changed.json()["error"]["type"] == "idempotency_error"


def test_sdk_raises_idempotency_error_on_reused_key(
    sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    client = sdk(PREVIEW)
    options: stripe.RequestOptions = {"idempotency_key": "k1"}
    first = client.v1.financial_connections.sessions.create(
        params=relink_params(customer, authorization), options=options
    )
    again = client.v1.financial_connections.sessions.create(
        params=relink_params(customer, authorization), options=options
    )
    assert again.id == first.id
    with pytest.raises(stripe.IdempotencyError):
        client.v1.financial_connections.sessions.create(
            params={**relink_params(customer, authorization), "permissions": ["balances"]},
            options=options,
        )


# lists


def test_accounts_list_paginates_newest_first(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any]
) -> None:
    created = sim.client.create_authorization(
        {"type": "customer", "customer": customer["id"]}, n_accounts=5
    )["accounts"]
    client = sdk(PREVIEW)
    params: dict[str, Any] = {"account_holder": {"customer": customer["id"]}, "limit": 2}
    first = client.v1.financial_connections.accounts.list(params=params)
    assert [a.id for a in first.data] == created[::-1][:2]
    assert first.has_more is True
    assert first.url == "/v1/financial_connections/accounts"
    every = [a.id for a in first.auto_paging_iter()]
    assert every == created[::-1]


def test_accounts_list_filters_by_holder_and_session(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    platform = sim.client.create_connected_account("ops@example.com")
    theirs = sim.client.create_authorization({"type": "account", "account": platform["id"]})
    client = sdk(PREVIEW)
    by_customer = client.v1.financial_connections.accounts.list(
        params={"account_holder": {"customer": customer["id"]}}
    )
    by_account = client.v1.financial_connections.accounts.list(
        params={"account_holder": {"account": platform["id"]}}
    )
    assert {a.id for a in by_customer.data} == set(authorization["accounts"])
    assert [a.id for a in by_account.data] == theirs["accounts"]

    session = client.v1.financial_connections.sessions.create(
        params=relink_params(customer, authorization, account=authorization["accounts"][1])
    )
    empty = client.v1.financial_connections.accounts.list(params={"session": session.id})
    assert empty.data == []
    sim.client.complete_session(session.id)
    linked = client.v1.financial_connections.accounts.list(params={"session": session.id})
    assert [a.id for a in linked.data] == [authorization["accounts"][1]]

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.financial_connections.accounts.list(params={"limit": 101})
    assert raised.value.param == "limit"


def test_events_list_filters(
    sim: SimServer, sdk: SdkFactory, authorization: dict[str, Any]
) -> None:
    sim.client.deactivate_authorization(authorization["id"], cause="access_expired")
    client = sdk(GA)
    everything = client.v1.events.list(params={"limit": 100})
    assert [e.type for e in everything.data] == [
        "financial_connections.account.deactivated",
        "financial_connections.account.deactivated",
        "financial_connections.account.created",
        "financial_connections.account.created",
    ]
    wildcard = client.v1.events.list(params={"type": "financial_connections.account.deact*"})
    assert len(wildcard.data) == 2
    by_types = client.v1.events.list(params={"types": ["financial_connections.account.created"]})
    assert len(by_types.data) == 2
    future = client.v1.events.list(params={"created": {"gte": 4102444800}})
    assert future.data == []
    # no webhook endpoint is configured, so nothing is pending
    assert client.v1.events.list(params={"delivery_success": False}).data == []
    event = client.v1.events.retrieve(everything.data[0].id)
    assert event.data.object.id in authorization["accounts"]
    assert event.to_dict()["request"] == {"id": None, "idempotency_key": None}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.events.list(params={"type": "x", "types": ["y"]})


# customers, connected accounts, setup intents


def test_customer_and_connected_account_emails(sim: SimServer, sdk: SdkFactory) -> None:
    cus = sim.client.create_customer("ada@example.com")
    acct = sim.client.create_connected_account("ops@example.com")
    client = sdk(GA)
    assert client.v1.customers.retrieve(cus["id"]).email == "ada@example.com"
    assert client.v1.accounts.retrieve(acct["id"]).email == "ops@example.com"
    assert cus["id"].startswith("cus_")
    assert acct["id"].startswith("acct_")


def test_setup_intent_from_fc_account(
    sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    client = sdk(GA)
    params: dict[str, Any] = {
        "customer": customer["id"],
        "allowed_payment_method_types": ["us_bank_account"],
        "payment_method_data": {
            "type": "us_bank_account",
            "us_bank_account": {"financial_connections_account": authorization["accounts"][0]},
            "billing_details": {"name": "Ada Lovelace"},
        },
        "confirm": True,
        "mandate_data": {
            "customer_acceptance": {
                "type": "online",
                "online": {"ip_address": "127.0.0.1", "user_agent": "pytest"},
            }
        },
    }
    intent = client.v1.setup_intents.create(params=params)  # type: ignore[arg-type]
    assert intent.status == "succeeded"
    assert intent.payment_method is not None
    assert str(intent.payment_method).startswith("pm_")
    assert str(intent.mandate).startswith("mandate_")
    assert fixture_keys("ga__setup_intent.json") <= set(intent.to_dict())

    unconfirmed = {**params, "confirm": False}
    del unconfirmed["mandate_data"]  # Stripe takes mandate_data only with confirm=true
    pending = client.v1.setup_intents.create(params=unconfirmed)  # type: ignore[arg-type]
    assert pending.status == "requires_confirmation"
    assert pending.mandate is None


def test_setup_intent_rejects_payment_method_types_on_new_versions(
    sim: SimServer, customer: dict[str, Any]
) -> None:
    url = f"{sim.base_url}/v1/setup_intents"
    form = {"customer": customer["id"], "payment_method_types[0]": "us_bank_account"}
    for version, expected in [(GA, 400), (PREVIEW, 400), ("2026-07-29.dahlia", 200)]:
        headers = {"Authorization": f"Bearer {sim.api_key}", "Stripe-Version": version}
        response = requests.post(url, data=form, headers=headers, timeout=5)
        assert response.status_code == expected, version
        if expected == 400:
            assert response.json()["error"]["code"] == "payment_method_types_no_longer_supported"


def test_setup_intent_refuses_an_inactive_account(
    sim: SimServer, sdk: SdkFactory, customer: dict[str, Any], authorization: dict[str, Any]
) -> None:
    fca = authorization["accounts"][0]
    sim.client.deactivate_account(fca)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk(GA).v1.setup_intents.create(
            params={
                "customer": customer["id"],
                "payment_method_data": {
                    "type": "us_bank_account",
                    "us_bank_account": {"financial_connections_account": fca},
                    "billing_details": {"name": "Ada"},
                },
            }
        )
    assert raised.value.code == "financial_connections_account_inactive"


def test_webhook_endpoints_list_the_configured_endpoint_without_its_secret(
    sim: SimServer, sdk: Callable[..., stripe.StripeClient]
) -> None:
    assert list(sdk().v1.webhook_endpoints.list().data) == []
    sim.client.configure_webhooks("https://relink.example.com/webhooks/stripe", "whsec_x")
    [endpoint] = sdk().v1.webhook_endpoints.list().data
    assert endpoint.object == "webhook_endpoint"
    assert endpoint.url == "https://relink.example.com/webhooks/stripe"
    assert endpoint.api_version == "2026-09-30.preview"
    assert endpoint.status == "enabled"
    assert "financial_connections.account.deactivated" in endpoint.enabled_events
    assert "financial_connections.account.reactivated" in endpoint.enabled_events
    assert endpoint.id.startswith("we_")
    assert "secret" not in endpoint.to_dict()
