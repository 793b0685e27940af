"""Listing cases (Stripe-style cursor pagination, filters), one case with its accounts and
timeline, an account's standing."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from shared.connect import acting_on
from shared.db import session_scope
from shared.models import CaseState, FcAccount, FcAuthorization, RelinkCase
from tests.platform_api.conftest import ADDRESS, T0, add_case, add_sent_email

Keys = dict[str, dict[str, str]]


def test_pagination_walks_250_cases_newest_first_without_gaps_or_repeats(
    api: TestClient, keys: Keys
) -> None:
    for n in range(250):
        add_case(f"fcauth_{n:04d}", opened_at=T0 + timedelta(minutes=n))
    seen: list[int] = []
    pages: list[tuple[int, bool]] = []
    params: dict[str, int] = {"limit": 100}
    while True:
        body = api.get("/api/v1/cases", params=params, headers=keys["read"]).json()
        assert body["object"] == "list"
        assert body["url"] == "/api/v1/cases"
        seen += [case["id"] for case in body["data"]]
        pages.append((len(body["data"]), body["has_more"]))
        if not body["has_more"]:
            break
        params["starting_after"] = body["data"][-1]["id"]
    assert pages == [(100, True), (100, True), (50, False)]
    assert seen == sorted(seen, reverse=True)
    assert len(set(seen)) == 250
    default = api.get("/api/v1/cases", headers=keys["read"]).json()
    assert [c["id"] for c in default["data"]] == seen[:10]
    assert default["has_more"] is True
    past_the_end = api.get(
        "/api/v1/cases", params={"starting_after": min(seen)}, headers=keys["read"]
    ).json()
    assert (past_the_end["data"], past_the_end["has_more"]) == ([], False)


def test_limit_outside_1_to_100_is_a_422_in_the_error_shape(api: TestClient, keys: Keys) -> None:
    for limit in (0, 101, -1):
        response = api.get("/api/v1/cases", params={"limit": limit}, headers=keys["read"])
        assert response.status_code == 422
        error = response.json()["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "invalid_request_error",
            "invalid_request",
            "limit",
        )
        assert "limit" in error["message"]


def ids(api: TestClient, keys: Keys, **params: str | int) -> list[int]:
    response = api.get("/api/v1/cases", params=params, headers=keys["read"])
    assert response.status_code == 200, response.text
    return [case["id"] for case in response.json()["data"]]


def test_filters_by_state_holder_authorization_bank_and_update_time(
    api: TestClient, keys: Keys
) -> None:
    ada_open = add_case("fcauth_a", holder=("customer", "cus_ada"))
    ada_old = add_case("fcauth_a", state=CaseState.RESOLVED, holder=("customer", "cus_ada"))
    bob = add_case("fcauth_b", holder=("customer", "cus_bob"), institution="Other Bank")
    platform = add_case("fcauth_c", holder=("account", "acct_shop"), state=CaseState.UNREPAIRABLE)
    holderless = add_case("fcauth_d", holder=None, state=CaseState.NO_CONTACT)

    assert ids(api, keys, state="open") == [bob, ada_open]
    assert ids(api, keys, state="resolved") == [ada_old]
    assert ids(api, keys, customer="cus_ada") == [ada_old, ada_open]
    assert ids(api, keys, customer="cus_ada", state="open") == [ada_open]
    assert ids(api, keys, connected_account="acct_shop") == [platform]
    assert ids(api, keys, customer="acct_shop") == []  # the holder's type counts too
    assert ids(api, keys, authorization="fcauth_d") == [holderless]
    assert ids(api, keys, institution="other bank") == [bob]
    assert ids(api, keys, institution="StripeBank", limit=2) == [holderless, platform]
    assert ids(api, keys) == [holderless, platform, bob, ada_old, ada_open]
    assert (
        api.get("/api/v1/cases", params={"state": "bogus"}, headers=keys["read"]).status_code == 422
    )

    # Any change to a case moves its updated_at (set on UPDATE, whatever wrote it).
    with session_scope() as session:
        case = session.get(RelinkCase, bob)
        assert case is not None
        case.emails_sent += 1
        session.add(case)
    since = (T0 + timedelta(days=1)).isoformat()
    assert ids(api, keys, updated_since=since) == [bob]
    assert ids(api, keys, updated_since="2025-12-31T00:00:00") == [
        holderless,
        platform,
        bob,
        ada_old,
        ada_open,
    ]
    [listed] = api.get(
        "/api/v1/cases", params={"updated_since": since}, headers=keys["read"]
    ).json()["data"]
    assert listed["holder"] == {"type": "customer", "id": "cus_bob"}
    assert listed["institution"] == "Other Bank"
    assert listed["emails_sent"] == 1


def test_one_case_has_its_accounts_and_a_timeline_with_masked_addresses(
    api: TestClient, keys: Keys
) -> None:
    case_id = add_case("fcauth_t")
    add_sent_email(case_id)
    body = api.get(f"/api/v1/cases/{case_id}", headers=keys["read"]).json()
    assert (body["id"], body["state"], body["account_id"]) == (case_id, "open", "fca_t1")
    assert [
        (a["id"], a["standing"], a["needs_relink"], a["open_case_id"]) for a in body["accounts"]
    ] == [
        ("fca_t1", "inactive", True, case_id),
        ("fca_t2", "inactive", True, case_id),
    ]
    assert [(e["kind"], e["what"]) for e in body["timeline"]] == [
        ("case", "opened"),
        ("email", "relink"),
    ]
    email = body["timeline"][1]
    assert email["recipient"] == "a***@example.com"
    assert ADDRESS not in str(body)
    with_pii = api.get(f"/api/v1/cases/{case_id}", headers=keys["pii"]).json()
    assert with_pii["timeline"][1]["recipient"] == ADDRESS

    missing = api.get("/api/v1/cases/999999", headers=keys["read"])
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "not_found",
            "message": "no case 999999",
            "param": None,
        }
    }


def test_an_accounts_standing(api: TestClient, keys: Keys) -> None:
    case_id = add_case("fcauth_s")
    with session_scope() as session:
        [first, second] = session.exec(select(FcAccount).order_by(FcAccount.id)).all()
        first.status, first.inactive_action, first.inactive_cause = "active", None, None
        first.active_action, first.expected_deactivation_date = "relink_required", 1_900_000_000
        second.status = "disconnected"
        session.add_all([first, second])
    warned = api.get("/api/v1/accounts/fca_s1", headers=keys["read"]).json()
    assert (warned["status"], warned["standing"], warned["needs_relink"]) == (
        "active",
        "warned",
        True,
    )
    assert warned["expected_deactivation_at"].startswith("2030-03-17")
    assert warned["open_case_id"] == case_id
    assert warned["holder"] == {"type": "customer", "id": "cus_ada"}
    gone = api.get("/api/v1/accounts/fca_s2", headers=keys["read"]).json()
    assert (gone["standing"], gone["needs_relink"]) == ("disconnected", False)
    assert api.get("/api/v1/accounts/fca_nope", headers=keys["read"]).status_code == 404
    assert api.get("/api/v1/accounts/not an id", headers=keys["read"]).status_code == 422


def test_a_connected_accounts_case_names_its_account_and_reads_its_own_objects(
    api: TestClient, keys: Keys
) -> None:
    """The same authorization id on the platform and on a connected account: two cases, each
    with its own holder and accounts."""
    platform = add_case("fcauth_same")
    with acting_on("acct_1Connected"), session_scope() as session:
        session.add(FcAuthorization(id="fcauth_same", holder_type="customer", holder_id="cus_bob"))
        case = RelinkCase(authorization_id="fcauth_same", opened_at=T0, last_heard_at=T0)
        session.add(case)
        session.flush()
        connected = case.id
    on_connected = {**keys["read"], "Stripe-Account": "acct_1Connected"}
    mine = api.get(f"/api/v1/cases/{platform}", headers=keys["read"]).json()
    theirs = api.get(f"/api/v1/cases/{connected}", headers=on_connected).json()
    assert (mine["stripe_account"], mine["holder"]["id"], len(mine["accounts"])) == (
        None,
        "cus_ada",
        2,
    )
    assert (theirs["stripe_account"], theirs["holder"]["id"], theirs["accounts"]) == (
        "acct_1Connected",
        "cus_bob",
        [],
    )


def test_a_case_shows_the_payment_methods_stripe_blocked(api: TestClient, keys: Keys) -> None:
    case_id = add_case("fcauth_b")
    blocked = {
        "id": "pm_1",
        "reason": "tokenized_account_number_deactivated",
        "fc_account": "fca_b1",
    }
    assert (
        api.get(f"/api/v1/cases/{case_id}", headers=keys["read"]).json()["blocked_payment_methods"]
        == []
    )
    with session_scope() as db:
        case = db.get(RelinkCase, case_id)
        assert case is not None
        case.blocked_payment_methods = [blocked]
    body = api.get(f"/api/v1/cases/{case_id}", headers=keys["read"]).json()
    assert body["blocked_payment_methods"] == [blocked]
    listed = api.get("/api/v1/cases", headers=keys["read"]).json()["data"]
    assert [c["blocked_payment_methods"] for c in listed if c["id"] == case_id] == [[blocked]]
