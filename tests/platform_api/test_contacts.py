"""Contacts set through the API: for an account holder or a holder-less account, masked
unless the key may see them, and the address the next email goes to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col, select

from api.app import create_app
from shared.connect import acting_on
from shared.db import session_scope
from shared.models import Contact, EmailOutbox, FcAccount, RelinkCase
from sim.client import SimClient
from sim.testing import SimServer
from tests.emails.world import (
    PREVIEW,
    deactivated_authorization,
    handle,
    sent_files,
    simulated_stripe,
    text_of,
)
from tests.platform_api.conftest import add_case, bearer, make_key
from worker.emails import send
from worker.inbox.handlers import stripe_account_of

Keys = dict[str, dict[str, str]]
ADA = {"email": "ada@example.com", "name": "Ada Lovelace", "locale": "en-GB"}


def test_a_holders_contact_is_set_replaced_read_and_deleted(api: TestClient, keys: Keys) -> None:
    path = "/api/v1/contacts/customer/cus_ada"
    set_ = api.put(path, json=ADA, headers=keys["contacts"])
    assert set_.status_code == 200
    assert {
        k: set_.json()[k] for k in ("subject_type", "subject_id", "email", "name", "locale")
    } == {
        "subject_type": "customer",
        "subject_id": "cus_ada",
        "email": "a***@example.com",  # a write key does not see addresses either
        "name": "Ada Lovelace",
        "locale": "en-GB",
    }
    replaced = api.put(path, json={"email": "lovelace@example.org"}, headers=keys["all"])
    assert (replaced.json()["email"], replaced.json()["name"]) == ("lovelace@example.org", None)
    assert api.get(path, headers=keys["read"]).json()["email"] == "l***@example.org"
    assert api.get(path, headers=keys["pii"]).json()["email"] == "lovelace@example.org"
    with session_scope() as session:
        assert len(session.exec(select(Contact)).all()) == 1

    assert api.delete(path, headers=keys["contacts"]).status_code == 204
    assert api.get(path, headers=keys["read"]).status_code == 404
    assert api.delete(path, headers=keys["contacts"]).status_code == 404


def test_subject_ids_must_match_their_type(api: TestClient, keys: Keys) -> None:
    for path in ("customer/acct_1", "account/cus_1", "fc_account/cus_1", "bank/cus_1"):
        response = api.put(f"/api/v1/contacts/{path}", json=ADA, headers=keys["contacts"])
        assert response.status_code == 422, path
        assert response.json()["error"]["code"] == "invalid_request"


def test_an_fc_account_contact_only_for_a_known_account_without_a_holder(
    api: TestClient, keys: Keys
) -> None:
    add_case("fcauth_h", holder=("customer", "cus_h"))
    add_case("fcauth_o", holder=None)
    held = api.put("/api/v1/contacts/fc_account/fca_h1", json=ADA, headers=keys["contacts"])
    assert (held.status_code, held.json()["error"]["code"]) == (409, "has_holder")
    unknown = api.put("/api/v1/contacts/fc_account/fca_zz", json=ADA, headers=keys["contacts"])
    assert unknown.status_code == 404
    orphan = api.put("/api/v1/contacts/fc_account/fca_o1", json=ADA, headers=keys["contacts"])
    assert orphan.status_code == 200


@pytest.fixture
def sim(db: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SimServer]:
    with simulated_stripe(
        monkeypatch, EMAIL_URL=f"file://{tmp_path}/outbox", QUIET_PERIOD_SECONDS="0"
    ) as server:
        yield server


def test_the_next_email_for_a_holderless_account_goes_to_the_contact_set_through_the_api(
    sim: SimServer, tmp_path: Path, published: list[object]
) -> None:
    for last4 in ("1111", "2222"):
        _auth, [event] = deactivated_authorization(sim, last4s=(last4,), email=None)
        handle(event)
    with session_scope() as session:  # as relink records accounts collected without a holder
        session.execute(update(FcAccount).values(holder_type=None, holder_id=None))
        rows = session.exec(select(EmailOutbox).order_by(col(EmailOutbox.id))).all()
        cases = [session.get(RelinkCase, row.case_id) for row in rows]
    [with_contact, without] = [
        (row.id, case.account_id) for row, case in zip(rows, cases, strict=True) if case
    ]

    with TestClient(create_app()) as api:
        response = api.put(
            f"/api/v1/contacts/fc_account/{with_contact[1]}",
            json={"email": "owner@example.com", "name": "Owner"},
            headers=bearer(make_key("write:contacts")),
        )
    assert response.status_code == 200
    assert send.send_outbox(with_contact[0]) == "sent"  # type: ignore[arg-type]
    assert send.send_outbox(without[0]) == "no_contact"  # type: ignore[arg-type]
    [message] = sent_files(tmp_path / "outbox")
    assert message["To"] == "owner@example.com"
    assert "1111" in text_of(message)


def test_a_holders_contact_is_preferred_to_the_address_at_stripe(
    sim: SimServer, tmp_path: Path, published: list[object]
) -> None:
    auth, [event] = deactivated_authorization(sim, last4s=("1111",), email="stripe@example.com")
    handle(event)
    customer = auth["account_holder"]["customer"]
    with session_scope() as session:
        row = session.exec(select(EmailOutbox)).one()
    with TestClient(create_app()) as api:
        response = api.put(
            f"/api/v1/contacts/customer/{customer}",
            json={"email": "billing@example.com"},
            headers=bearer(make_key("write:contacts")),
        )
    assert response.status_code == 200
    assert send.send_outbox(row.id) == "sent"  # type: ignore[arg-type]
    [message] = sent_files(tmp_path / "outbox")
    assert message["To"] == "billing@example.com"


def _same_id_deactivation(sim: SimServer, on: SimClient, last4: str) -> str | None:
    """fcauth_Same/fca_Same on the simulator account `on`, deactivated and handled as the
    worker does (acting on the event's account); returns that Stripe account ('' or acct_)."""
    customer = on.create_customer(None)["id"]  # no address at Stripe
    on.create_authorization(
        {"type": "customer", "customer": customer},
        accounts=[{"id": "fca_Same", "last4": last4}],
        id="fcauth_Same",
    )
    on.deactivate_account("fca_Same")
    [event] = [
        e
        for e in sim.client.events()
        if e["type"] == "financial_connections.account.deactivated"
        and e.get("account") == on.stripe_account
    ]
    headers = {"Authorization": f"Bearer {sim.api_key}", "Stripe-Version": PREVIEW}
    if on.stripe_account:
        headers["Stripe-Account"] = on.stripe_account
    account = requests.get(
        f"{sim.base_url}/v1/financial_connections/accounts/fca_Same", headers=headers, timeout=10
    )
    account.raise_for_status()
    with acting_on(stripe_account_of(event)):
        handle({**event, "data": {"object": account.json()}})
    return on.stripe_account


def test_a_connected_accounts_contact_is_used_by_its_next_email_not_the_platforms_same_id(
    sim: SimServer, tmp_path: Path, published: list[object]
) -> None:
    connected = sim.client.create_connected_account(None)["id"]
    _same_id_deactivation(sim, sim.client, "1111")  # the platform's own fca_Same
    _same_id_deactivation(sim, sim.client.on_account(connected), "2222")
    with session_scope() as session:  # as relink records accounts collected without a holder
        session.execute(update(FcAccount).values(holder_type=None, holder_id=None))
        rows = session.exec(select(EmailOutbox).order_by(col(EmailOutbox.id))).all()
        by_account = {
            case.stripe_account: row.id
            for row in rows
            if (case := session.get(RelinkCase, row.case_id)) is not None
        }
    assert set(by_account) == {"", connected}

    with TestClient(create_app()) as api:
        response = api.put(
            "/api/v1/contacts/fc_account/fca_Same",
            json={"email": "owner@example.com"},
            headers={**bearer(make_key("write:contacts")), "Stripe-Account": connected},
        )
    assert response.status_code == 200, response.text
    assert send.send_outbox(by_account[""]) == "no_contact"  # type: ignore[arg-type]
    assert send.send_outbox(by_account[connected]) == "sent"  # type: ignore[arg-type]
    [message] = sent_files(tmp_path / "outbox")
    assert message["To"] == "owner@example.com"
    assert "2222" in text_of(message)
