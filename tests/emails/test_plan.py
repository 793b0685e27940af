"""Whether a live account still calls for an email, read from its parsed snapshot."""

from __future__ import annotations

from typing import Any

import pytest

from shared.models import EmailKind
from shared.stripe_objects import AccountSnapshot
from worker.cases.core.classification import EmailTemplate
from worker.emails.plan import Plan, still_needed


def plan(family: EmailTemplate) -> Plan:
    return Plan(
        outbox_id=1,
        case_id=1,
        kind=EmailKind.RELINK,
        family=family,
        authorization_id="fcauth_1",
        account_id="fca_1",
        holder_type="customer",
        holder_id="cus_1",
        institution="StripeBank",
        accounts=[],
    )


def live(status: str, **details: Any) -> AccountSnapshot:
    return AccountSnapshot.parse({"id": "fca_1", "status": status, "status_details": details})


FLAGGED = {"active": {"action": "relink_required", "expected_deactivation_date": 1_900_000_000}}
HORIZON_END = 1_800_000_000


def with_number(status: str, expiry: int | None = None) -> AccountSnapshot:
    number = {
        "identifier_type": "tokenized_account_number",
        "status": status,
        "expected_expiry_date": expiry,
        "supported_networks": ["ach"],
    }
    return AccountSnapshot.parse({"id": "fca_1", "status": "active", "account_numbers": [number]})


@pytest.mark.parametrize(
    ("family", "account", "needed"),
    [
        (EmailTemplate.ACCESS, live("inactive"), True),
        (EmailTemplate.ACCESS, live("disconnected"), True),
        (EmailTemplate.ACCESS, live("active"), False),
        (EmailTemplate.ACCESS, live("active", **FLAGGED), False),
        (EmailTemplate.ACCESS, live("a_status_stripe_adds_later"), True),
        (EmailTemplate.UNREPAIRABLE, live("inactive"), True),
        (EmailTemplate.UNREPAIRABLE, live("active"), False),
        (EmailTemplate.PROACTIVE, live("active", **FLAGGED), True),
        (EmailTemplate.PROACTIVE, live("inactive"), True),
        (EmailTemplate.PROACTIVE, live("active"), False),
        (EmailTemplate.PROACTIVE, live("active", active={"action": "none"}), False),
        (EmailTemplate.PROACTIVE, live("disconnected"), False),
        (EmailTemplate.PROACTIVE, with_number("transactable", HORIZON_END), True),
        (EmailTemplate.PROACTIVE, with_number("transactable", HORIZON_END + 1), False),
        (EmailTemplate.PROACTIVE, with_number("transactable"), False),
        (EmailTemplate.PROACTIVE, with_number("deactivated"), True),
        (EmailTemplate.PROACTIVE, with_number("expired"), True),
        (EmailTemplate.PROACTIVE, with_number("a_status_stripe_adds_later"), False),
        (EmailTemplate.RECONNECTED, live("active"), True),
        (EmailTemplate.RECONNECTED, live("inactive"), False),
        (EmailTemplate.RECONNECTED, live("disconnected"), False),
    ],
)
def test_still_needed_follows_the_live_status_the_relink_flag_and_the_number(
    family: EmailTemplate, account: AccountSnapshot, needed: bool
) -> None:
    assert still_needed(plan(family), account, HORIZON_END) is needed
