"""The relink page's fixtures (tests/relink_page/conftest.py) for the attacks on it here."""

from __future__ import annotations

from tests.relink_page.conftest import (  # noqa: F401  (fixtures these tests use)
    client,
    clock,
    sim,
    sim_server,
    world,
)
