"""The cases tests' Stripe: the simulator (tests/cases/world.py), emails written as files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.testing import SimServer
from tests.cases.world import simulated_world


@pytest.fixture
def sim_env() -> dict[str, str]:
    """Extra settings for `sim` (upper-case names); a test module overrides this fixture."""
    return {}


@pytest.fixture
def sim(
    db: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sim_env: dict[str, str]
) -> Iterator[SimServer]:
    with simulated_world(monkeypatch, EMAIL_URL=f"file://{tmp_path}/outbox", **sim_env) as server:
        yield server
