"""Contacts are To: headers of relink's emails: an address or name that could add a header or
a second recipient is refused before anything is stored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from shared.db import session_scope
from shared.models import Contact
from tests.platform_api.conftest import bearer, make_key


@pytest.fixture
def api(db: None) -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client


HOSTILE = [
    {"email": "ada@example.com\r\nBcc: all@evil.example"},
    {"email": "ada@example.com\nBcc: all@evil.example"},
    {"email": "ada@example.com, all@evil.example"},
    {"email": "ada@example.com,all@evil.example"},
    {"email": "Ada <all@evil.example>"},
    {"email": '"ada@example.com"@evil.example'},
    {"email": "ada@example.com "},
    {"email": "a" * 65 + "@example.com"},
    {"email": "ada@example.com", "name": "Ada\r\nBcc: all@evil.example"},
    {"email": "ada@example.com", "name": "Ada\x00"},
    {"email": "ada@example.com", "locale": "en\r\nX: y"},
    {"email": "ada@example.com", "locale": "../../etc/passwd"},
]


def test_hostile_addresses_names_and_locales_are_refused(api: TestClient) -> None:
    writer = bearer(make_key("write:contacts"))
    for body in HOSTILE:
        response = api.put("/api/v1/contacts/customer/cus_ada", json=body, headers=writer)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_request"
    with session_scope() as session:
        assert session.exec(select(Contact)).all() == []
    fine = {
        "email": "ada.o'brien+bank@mail.example.co.uk",
        "name": "Ada O'Brien",
        "locale": "en-GB",
    }
    assert (
        api.put("/api/v1/contacts/customer/cus_ada", json=fine, headers=writer).status_code == 200
    )
