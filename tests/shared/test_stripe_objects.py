"""Stripe payloads parsed once into typed snapshots: known values become enum members,
values Stripe adds later are kept as they are, and shapes that are not accounts are refused."""

from __future__ import annotations

from typing import Any

import pytest

from shared.stripe_objects import (
    AccountSnapshot,
    AccountStatus,
    Action,
    AuthorizationSnapshot,
    Holder,
    InactiveCause,
)
from sim import objects, state
from sim.versions import GA_DEFAULT, PREVIEW_DEFAULT


def account(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "fca_1",
        "object": "financial_connections.account",
        "status": "inactive",
        "authorization": "fcauth_1",
        "account_holder": {"type": "customer", "customer": "cus_1"},
        "institution_name": "StripeBank",
        "last4": "6789",
        "permissions": ["payment_method", "balances"],
        "status_details": {"inactive": {"cause": "access_expired", "action": "relink_required"}},
    }
    return base | overrides


def test_an_inactive_account_parses_into_members() -> None:
    snapshot = AccountSnapshot.parse(account())
    assert snapshot.status is AccountStatus.INACTIVE
    assert snapshot.inactive_cause is InactiveCause.ACCESS_EXPIRED
    assert snapshot.inactive_action is Action.RELINK_REQUIRED
    assert snapshot.holder == Holder("customer", "cus_1")
    assert snapshot.holder.as_param() == {"type": "customer", "customer": "cus_1"}
    assert snapshot.permissions == ("payment_method", "balances")
    assert snapshot.needs_relink
    assert not snapshot.lacks_preview_fields


def test_values_stripe_adds_later_are_kept_as_strings() -> None:
    details = {"inactive": {"cause": "bank_merged", "action": "contact_support"}}
    snapshot = AccountSnapshot.parse(account(status="suspended", status_details=details))
    assert (snapshot.status, snapshot.inactive_cause, snapshot.inactive_action) == (
        "suspended",
        "bank_merged",
        "contact_support",
    )
    assert not isinstance(snapshot.status, AccountStatus)


def test_an_active_account_flagged_for_relink_needs_one() -> None:
    details = {"active": {"action": "relink_required", "expected_deactivation_date": 1_900_000}}
    snapshot = AccountSnapshot.parse(account(status="active", status_details=details))
    assert snapshot.needs_relink(HORIZON_END)
    assert snapshot.active.expected_deactivation_date == 1_900_000
    working = AccountSnapshot.parse(account(status="active", status_details={}))
    assert not working.needs_relink(HORIZON_END)


HORIZON_END = 1_800_000_000


def tan(status: str, expiry: int | None = None, kind: str = "tokenized_account_number") -> Any:
    number = {"expected_expiry_date": expiry, "identifier_type": kind, "status": status}
    return [{**number, "supported_networks": ["ach"]}]


@pytest.mark.parametrize(
    ("numbers", "needed"),
    [
        (None, False),
        (tan("transactable"), False),
        (tan("transactable", HORIZON_END), True),  # expires within the horizon
        (tan("transactable", HORIZON_END + 1), False),
        (tan("pending"), False),
        (tan("deactivated"), True),
        (tan("expired"), True),
        (tan("deactivated", kind="account_number"), False),  # not a tokenized number
        (tan("a_status_stripe_adds_later"), False),
    ],
)
def test_a_working_account_needs_a_relink_when_its_tokenized_number_does(
    numbers: Any, needed: bool
) -> None:
    snapshot = AccountSnapshot.parse(account(status="active", account_numbers=numbers))
    assert snapshot.needs_relink(HORIZON_END) is needed


@pytest.mark.parametrize(
    ("holder", "expected"),
    [
        ({"type": "account", "account": "acct_1"}, Holder("account", "acct_1")),
        (
            {"type": "customer", "customer": {"id": "cus_9", "object": "customer"}},
            Holder("customer", "cus_9"),
        ),
        ({"type": "customer", "customer": None}, None),
        ({"type": "application"}, None),
        (None, None),
    ],
)
def test_account_holders(holder: object, expected: Holder | None) -> None:
    assert AccountSnapshot.parse(account(account_holder=holder)).holder == expected


def test_a_ga_payload_lacks_the_preview_fields() -> None:
    ga = account(status_details=None)
    del ga["authorization"]
    assert AccountSnapshot.parse(ga).lacks_preview_fields
    assert AccountSnapshot.parse(account(status_details={})).lacks_preview_fields


def test_a_preview_payload_with_a_null_authorization_has_the_preview_fields() -> None:
    snapshot = AccountSnapshot.parse(account(authorization=None))
    assert snapshot.authorization is None
    assert not snapshot.lacks_preview_fields


@pytest.mark.parametrize(
    "payload", [{"status": "active"}, {"id": "fca_1"}, {"id": 7, "status": "active"}]
)
def test_a_payload_without_id_or_status_is_not_an_account(payload: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="id and a status"):
        AccountSnapshot.parse(payload)


@pytest.mark.parametrize("version", [GA_DEFAULT, PREVIEW_DEFAULT])
def test_the_simulators_accounts_parse_at_ga_and_preview_versions(version: str) -> None:
    record = state.Account(
        id="fca_sim",
        authorization="fcauth_sim",
        holder=state.Holder("customer", "cus_sim"),
        institution_name="StripeBank",
        institution="bank",
        created=1,
        last4="6789",
        subcategory="checking",
        category="cash",
        display_name="Checking",
        permissions=["payment_method"],
        status="inactive",
        inactive_action="relink_required",
        inactive_cause="access_expired",
    )
    snapshot = AccountSnapshot.parse(objects.account(record, version))
    assert (snapshot.id, snapshot.status, snapshot.holder) == (
        "fca_sim",
        AccountStatus.INACTIVE,
        Holder("customer", "cus_sim"),
    )
    assert snapshot.lacks_preview_fields is (version == GA_DEFAULT)


def test_an_authorization_parses() -> None:
    snapshot = AuthorizationSnapshot.parse(
        {
            "id": "fcauth_1",
            "status": "active",
            "account_holder": {"type": "customer", "customer": "cus_1"},
            "status_details": {"active": {"action": "relink_required"}},
        }
    )
    assert snapshot.status is AccountStatus.ACTIVE
    assert snapshot.active.action is Action.RELINK_REQUIRED
    assert snapshot.holder == Holder("customer", "cus_1")
