"""Platform webhooks on SQLite with a real HTTP receiver; tasks published are collected."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.settings import get_settings
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
