"""Money at stake: the simulator over HTTP (the real SDK), SQLite, the worker's service called
as its task calls it."""

from __future__ import annotations

from tests.relink_page.conftest import client, sim, sim_server, world  # noqa: F401
