"""Switching to the new PaymentMethod: the relink page against the simulator over HTTP (the
real SDK), SQLite, the worker's service called as its task calls it."""

from __future__ import annotations

import pytest

from shared.settings import get_settings
from tests.relink_page.conftest import client, sim, sim_server, world  # noqa: F401

PLATFORM_SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtcGxhdGZvcm0="


def configure(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """Set relink's settings for the rest of the test."""
    for name, value in env.items():
        monkeypatch.setenv(name.upper(), value)
    get_settings.cache_clear()
