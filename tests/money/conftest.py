"""Money at stake: the simulator over HTTP (the real SDK), SQLite, the worker's service called
as its task calls it. The feature is off by default (its reads share the Stripe budget): these
tests turn it on; the one about `false` turns it off again."""

from __future__ import annotations

import pytest

from shared.settings import get_settings
from tests.relink_page.conftest import client, sim, sim_server, world  # noqa: F401


@pytest.fixture(autouse=True)
def money_at_stake_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONEY_AT_STAKE", "true")
    get_settings.cache_clear()
