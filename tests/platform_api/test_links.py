"""A link minted through the API opens the relink page; a resend goes through the page's own
fresh-link path and limits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlmodel import select

from shared.cases.links import read_link
from shared.db import session_scope, utcnow
from shared.events.catalog import SEND_EMAIL
from shared.models import CaseState, EmailKind, EmailOutbox, RelinkCase
from shared.settings import get_settings
from tests.platform_api.conftest import add_case
from tests.relink_page.world import World

Keys = dict[str, dict[str, str]]


def test_a_minted_link_opens_the_relink_page(client: TestClient, world: World, keys: Keys) -> None:
    before = utcnow()
    response = client.post(f"/api/v1/cases/{world.case_id}/links", headers=keys["write"])
    assert response.status_code == 201, response.text
    link = response.json()
    url = urlsplit(link["url"])
    assert f"{url.scheme}://{url.netloc}" == get_settings().public_base_url.rstrip("/")
    token = url.path.removeprefix("/relink/")
    payload = read_link(token)
    assert (payload.case_id, payload.authorization_id) == (world.case_id, world.authorization)
    assert payload.account_id == link["account_id"] in world.accounts
    expires = datetime.fromisoformat(link["expires_at"])
    max_age = timedelta(seconds=get_settings().link_max_age)
    assert before + max_age <= expires <= utcnow() + max_age

    page = client.get(url.path)
    assert page.status_code == 200
    assert "StripeBank" in page.text


def test_a_link_names_a_broken_account_when_the_case_names_none(
    api: TestClient, keys: Keys
) -> None:
    case_id = add_case("fcauth_n", with_account_id=False)
    response = api.post(f"/api/v1/cases/{case_id}/links", headers=keys["write"])
    assert response.status_code == 201
    assert response.json()["account_id"] == "fca_n1"
    assert read_link(urlsplit(response.json()["url"]).path.split("/")[-1]).account_id == "fca_n1"


def test_no_link_for_a_closed_or_missing_case(api: TestClient, keys: Keys) -> None:
    closed = add_case("fcauth_x", state=CaseState.RESOLVED)
    response = api.post(f"/api/v1/cases/{closed}/links", headers=keys["write"])
    missing = api.post("/api/v1/cases/424242/links", headers=keys["write"])
    # a closed case answers as a missing one: no enumeration of case ids by status code
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


def fresh_rows(case_id: int) -> list[EmailOutbox]:
    with session_scope() as session:
        return list(
            session.exec(
                select(EmailOutbox).where(
                    EmailOutbox.case_id == case_id, EmailOutbox.kind == EmailKind.FRESH_LINK
                )
            )
        )


def test_resend_queues_one_fresh_link_email_within_the_interval(
    api: TestClient, keys: Keys, published: list[Any]
) -> None:
    case_id = add_case("fcauth_r")
    response = api.post(f"/api/v1/cases/{case_id}/resend", headers=keys["write"])
    assert response.status_code == 202
    assert response.json() == {"object": "relink_resend", "case_id": case_id, "outcome": "queued"}
    [row] = fresh_rows(case_id)
    assert published == [(SEND_EMAIL, [row.id])]
    with session_scope() as session:
        case = session.get(RelinkCase, case_id)
        assert case is not None
        assert case.fresh_link_requested_at is not None

    again = api.post(f"/api/v1/cases/{case_id}/resend", headers=keys["write"])
    assert again.status_code == 429
    assert again.json()["error"]["code"] == "rate_limited"
    assert again.json()["error"]["type"] == "rate_limit_error"
    assert again.headers["retry-after"] == str(get_settings().fresh_link_interval_seconds)
    assert len(fresh_rows(case_id)) == 1

    closed = add_case("fcauth_y", state=CaseState.UNREPAIRABLE)
    refused = api.post(f"/api/v1/cases/{closed}/resend", headers=keys["write"])
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "not_found")
    assert fresh_rows(closed) == []
    assert api.post("/api/v1/cases/424242/resend", headers=keys["write"]).status_code == 404


def test_resend_past_the_daily_cap_is_429_with_nothing_queued(
    api: TestClient, keys: Keys, published: list[Any], monkeypatch: Any
) -> None:
    """L8: it answered 202 "queued" though the cap had stopped the email."""
    monkeypatch.setenv("FRESH_LINK_DAILY_CAP", "1")
    get_settings.cache_clear()
    case_id = add_case("fcauth_cap")
    assert api.post(f"/api/v1/cases/{case_id}/resend", headers=keys["write"]).status_code == 202
    refused = api.post(f"/api/v1/cases/{case_id}/resend", headers=keys["write"])
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "daily_cap")
    assert refused.headers["retry-after"] == str(24 * 3600)
    assert "FRESH_LINK_DAILY_CAP" in refused.json()["error"]["message"]
    assert len(fresh_rows(case_id)) == 1
    assert len(published) == 1
