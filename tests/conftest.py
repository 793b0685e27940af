"""Every test gets its own SQLite database and known settings; nothing leaks between tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import SQLModel

from shared import queue
from shared.db import get_engine
from shared.events import catalog
from shared.queue import celery_app
from shared.settings import get_settings

WEBHOOK_SECRET = "whsec_test_current"
OLD_WEBHOOK_SECRET = "whsec_test_previous"


def _clear_caches() -> None:
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    get_settings.cache_clear()
    celery_app.cache_clear()


@pytest.fixture(autouse=True)
def settings_env(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/relink.db")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", f"{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_unit")
    monkeypatch.setenv("LINK_SIGNING_KEYS", "unit-test-link-key")
    _clear_caches()
    yield
    _clear_caches()


@pytest.fixture
def db() -> None:
    """An empty schema in this test's SQLite database."""
    SQLModel.metadata.create_all(get_engine())


Published = list[tuple[str, list[Any]]]


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Published:
    """Tasks published (name and args) instead of sent to a broker."""
    sent: Published = []

    def publish(task_name: str, args: list[Any], **_: Any) -> None:
        sent.append((task_name, list(args)))

    monkeypatch.setattr(queue, "publish", publish)
    return sent


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ids of the inbox events published for processing, instead of sent to a broker."""
    event_ids: list[str] = []

    def publish(task_name: str, args: list[Any], **_: Any) -> None:
        assert task_name in (catalog.PROCESS_EVENT, catalog.PROCESS_EVENTS), task_name
        event_ids.extend([args[0]] if task_name == catalog.PROCESS_EVENT else args[0])

    monkeypatch.setattr(queue, "publish", publish)
    return event_ids


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every publish fails as it does when the broker cannot be reached."""

    def refuse(*_: Any, **__: Any) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(queue, "publish", refuse)
