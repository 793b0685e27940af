"""The one address mask and the one timestamp format both processes use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.cases.contacts import mask_email
from shared.db import iso


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("ada@example.com", "a***@example.com"),
        ("x@y.z", "x***@y.z"),
        ("no-at-sign", "***"),
        ("@example.com", "***"),  # nothing before the @: nothing to show
        ("a@b@example.com", "a***@example.com"),
    ],
)
def test_mask_email(address: str, masked: str) -> None:
    assert mask_email(address) == masked


def test_iso_writes_utc_as_z_to_the_precision_asked() -> None:
    moment = datetime(2026, 12, 3, 13, 30, 5, 120000, tzinfo=UTC)
    assert iso(moment) == "2026-12-03T13:30:05.120000Z"
    assert iso(moment, timespec="seconds") == "2026-12-03T13:30:05Z"
    assert iso(moment.replace(microsecond=0)) == "2026-12-03T13:30:05Z"
    other = moment.astimezone(timezone(timedelta(hours=1)))
    assert iso(other, timespec="seconds") == "2026-12-03T14:30:05+01:00"
    assert iso(None) is None
