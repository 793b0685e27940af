"""Every test gets its own SQLite database and known settings; nothing leaks between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import SQLModel

from shared.db import get_engine
from shared.settings import get_settings

WEBHOOK_SECRET = "whsec_test_current"
OLD_WEBHOOK_SECRET = "whsec_test_previous"


def _clear_caches() -> None:
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    get_settings.cache_clear()


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
