"""Fixtures of the email tests: the simulator as Stripe with emails written to a folder,
and fresh rate-limit buckets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import ratelimit
from sim.testing import SimServer
from tests.emails.world import simulated_stripe


@pytest.fixture
def outbox_dir(tmp_path: Path) -> Path:
    """Where the file:// transport writes the emails sent."""
    return tmp_path / "outbox"


@pytest.fixture
def sim(db: None, monkeypatch: pytest.MonkeyPatch, outbox_dir: Path) -> Iterator[SimServer]:
    """The simulator as Stripe, emails to `outbox_dir`, no quiet period, reminders 3 and 7
    days after the first email."""
    with simulated_stripe(
        monkeypatch,
        EMAIL_URL=f"file://{outbox_dir}",
        QUIET_PERIOD_SECONDS="0",
        REMINDER_DELAYS_DAYS="3,7",
    ) as server:
        yield server


@pytest.fixture
def fresh_buckets() -> Iterator[None]:
    """Rate-limit buckets built from this test's settings, forgotten afterwards."""
    ratelimit.reset_buckets()
    yield
    ratelimit.reset_buckets()
