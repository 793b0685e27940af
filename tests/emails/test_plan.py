"""Whether a live account still calls for an email, read from its parsed snapshot."""

from __future__ import annotations

from typing import Any

import pytest

from shared.models import EmailKind
from shared.stripe_objects import AccountSnapshot
from worker.cases.core.classification import CauseFamily
from worker.emails.plan import Plan, still_needed


def plan(family: CauseFamily) -> Plan:
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
        (CauseFamily.ACCESS, live("inactive"), True),
        (CauseFamily.ACCESS, live("disconnected"), True),
        (CauseFamily.ACCESS, live("active"), False),
        (CauseFamily.ACCESS, live("active", **FLAGGED), False),
        (CauseFamily.ACCESS, live("a_status_stripe_adds_later"), True),
        (CauseFamily.UNREPAIRABLE, live("inactive"), True),
        (CauseFamily.UNREPAIRABLE, live("active"), False),
        (CauseFamily.PROACTIVE, live("active", **FLAGGED), True),
        (CauseFamily.PROACTIVE, live("inactive"), True),
        (CauseFamily.PROACTIVE, live("active"), False),
        (CauseFamily.PROACTIVE, live("active", active={"action": "none"}), False),
        (CauseFamily.PROACTIVE, live("disconnected"), False),
        (CauseFamily.PROACTIVE, with_number("transactable", HORIZON_END), True),
        (CauseFamily.PROACTIVE, with_number("transactable", HORIZON_END + 1), False),
        (CauseFamily.PROACTIVE, with_number("transactable"), False),
        (CauseFamily.PROACTIVE, with_number("deactivated"), True),
        (CauseFamily.PROACTIVE, with_number("expired"), True),
        (CauseFamily.PROACTIVE, with_number("a_status_stripe_adds_later"), False),
        (CauseFamily.RECONNECTED, live("active"), True),
        (CauseFamily.RECONNECTED, live("inactive"), False),
        (CauseFamily.RECONNECTED, live("disconnected"), False),
    ],
)
def test_still_needed_follows_the_live_status_the_relink_flag_and_the_number(
    family: CauseFamily, account: AccountSnapshot, needed: bool
) -> None:
    assert still_needed(plan(family), account, HORIZON_END) is needed
