"""Platform webhooks on SQLite with a real HTTP receiver; tasks published are collected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.settings import get_settings
from sim.testing import SimServer
from tests.cases.world import simulated_world
from tests.platform_webhooks.receiver import OLD_SECRET, SECRET, Receiver, running


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch, db: None) -> Iterator[Receiver]:
    """A receiver, and relink configured to deliver to it (two secrets: a rotation)."""
    with running() as started:
        monkeypatch.setenv("PLATFORM_WEBHOOK_URL", started.url)
        monkeypatch.setenv("PLATFORM_WEBHOOK_SECRETS", f"{SECRET},{OLD_SECRET}")
        monkeypatch.setenv("PLATFORM_WEBHOOK_TIMEOUT_SECONDS", "0.5")
        get_settings.cache_clear()
        yield started


@pytest.fixture
def sim_env() -> dict[str, str]:
    """Extra settings for `sim` (upper-case names); a test module overrides this fixture."""
    return {}


@pytest.fixture
def sim(
    db: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sim_env: dict[str, str]
) -> Iterator[SimServer]:
    """The cases tests' simulated Stripe (events fed in-process), emails written as files."""
    with simulated_world(monkeypatch, EMAIL_URL=f"file://{tmp_path}/outbox", **sim_env) as server:
        yield server
