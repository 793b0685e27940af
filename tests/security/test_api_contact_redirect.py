"""M1: a `write` API key redirecting a customer's relink link. Changing a contact needs its
own scope (write:contacts), is logged with the key's prefix and masked addresses, and revokes
the links of the subject's open cases (an older link then reads "expired"); a case's links can
be revoked on demand; a closed case answers mint and resend as a missing one does."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from shared.cases import contacts
from shared.cases.links import sign_link
from shared.db import session_scope
from shared.logging import configure_logging
from shared.models import CaseState, ContactSubject
from tests.platform_api.conftest import add_case, bearer, make_key
from tests.relink_page.world import World

ATTACKER = "mallory@example.net"


def test_a_write_key_cannot_change_where_links_go(client: TestClient, world: World) -> None:
    writer = bearer(make_key("read", "write"))
    path = f"/api/v1/contacts/customer/{world.customer}"
    refused = client.put(path, json={"email": ATTACKER}, headers=writer)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert client.delete(path, headers=writer).status_code == 403
    assert client.get(path, headers=writer).status_code == 404  # nothing was written


def test_a_contact_change_revokes_older_links_and_is_logged(
    client: TestClient, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(json=True)
    emailed = sign_link(world.payload, at=int(time.time()) - 60)  # the link in the inbox
    assert client.get(f"/relink/{emailed}").status_code == 200
    key = make_key("write:contacts", name="crm")
    path = f"/api/v1/contacts/customer/{world.customer}"

    changed = client.put(path, json={"email": ATTACKER}, headers=bearer(key))
    assert changed.status_code == 200

    page = client.get(f"/relink/{emailed}")
    assert page.status_code == 410
    assert "/fresh" not in page.text  # a revoked link asks nothing more of relink
    assert client.post(f"/relink/{emailed}/fresh").status_code == 410
    out = capsys.readouterr().out
    # One line, in whichever renderer the process's loggers were first used with (structlog
    # caches a module's logger at its first call, so an earlier test may have fixed it).
    [line] = [line for line in out.splitlines() if "contact_changed" in line]
    assert key[:16] in line  # the key's prefix, never the key
    assert "m***@example.net" in line
    assert re.search(rf"open_cases\W+\[{world.case_id}\]", line), line
    assert key not in out
    assert ATTACKER not in out

    later = sign_link(world.payload)  # a link made after the change
    assert client.get(f"/relink/{later}").status_code == 200


def set_stored_contact(customer: str, email: str) -> None:
    with session_scope() as session:
        contacts.set_contact(
            session,
            ContactSubject.CUSTOMER,
            customer,
            stripe_account="",
            email=email,
            name=None,
            locale=None,
        )


def test_deleting_a_contact_revokes_too(client: TestClient, world: World) -> None:
    key = bearer(make_key("write:contacts"))
    path = f"/api/v1/contacts/customer/{world.customer}"
    set_stored_contact(world.customer, "ada@example.com")
    emailed = sign_link(world.payload, at=int(time.time()) - 60)
    assert client.get(f"/relink/{emailed}").status_code == 200
    assert client.delete(path, headers=key).status_code == 204
    assert client.get(f"/relink/{emailed}").status_code == 410


def test_an_unchanged_address_revokes_nothing(client: TestClient, world: World) -> None:
    key = bearer(make_key("write:contacts"))
    path = f"/api/v1/contacts/customer/{world.customer}"
    set_stored_contact(world.customer, "ada@example.com")
    emailed = sign_link(world.payload, at=int(time.time()) - 60)
    same = {"email": "ada@example.com", "name": "Ada"}
    assert client.put(path, json=same, headers=key).status_code == 200
    assert client.get(f"/relink/{emailed}").status_code == 200


def test_links_can_be_revoked(client: TestClient, world: World) -> None:
    writer = bearer(make_key("write"))
    minted = sign_link(world.payload, at=int(time.time()) - 60)
    assert client.get(f"/relink/{minted}").status_code == 200
    revoke = client.post(f"/api/v1/cases/{world.case_id}/links/revoke", headers=writer)
    assert revoke.status_code == 204
    assert client.get(f"/relink/{minted}").status_code == 410
    reader = bearer(make_key("read"))
    refused = client.post(f"/api/v1/cases/{world.case_id}/links/revoke", headers=reader)
    assert refused.status_code == 403


def test_case_ids_cannot_be_told_apart_by_a_write_key(client: TestClient, world: World) -> None:
    writer = bearer(make_key("write"))
    closed = add_case("fcauth_closed", state=CaseState.RESOLVED)
    for action in ("links", "resend", "links/revoke"):
        answers = {
            case_id: client.post(f"/api/v1/cases/{case_id}/{action}", headers=writer)
            for case_id in (closed, 424242)
        }
        shapes = {(r.status_code, r.json()["error"]["code"]) for r in answers.values()}
        assert shapes == {(404, "not_found")}, action
