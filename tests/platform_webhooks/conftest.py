"""Platform webhooks on SQLite with a real HTTP receiver; tasks published are collected.
Every event a test here writes is checked against its type's model afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from shared.db import session_scope
from shared.platform_webhooks import events
from shared.platform_webhooks.models import PlatformEvent
from shared.platform_webhooks.payloads import PAYLOADS
from shared.settings import get_settings
from sim.testing import SimServer
from tests.cases.world import simulated_world
from tests.platform_webhooks.receiver import OLD_SECRET, SECRET, Receiver, running


@pytest.fixture(autouse=True)
def events_match_their_models(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the test, every `platform_event` row written validates against its type's
    model, both as stored and as delivered (with the link), and is the model's own JSON."""
    yield
    if "db" not in request.fixturenames:
        return
    with session_scope() as session:
        rows = session.exec(select(PlatformEvent)).all()
        for row in rows:
            model = PAYLOADS[row.type]
            stored = model.model_validate_json(row.payload)
            assert json.loads(row.payload) == stored.model_dump(mode="json")
            model.model_validate_json(events.body(row))


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
