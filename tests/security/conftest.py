"""The relink page's fixtures (tests/relink_page/conftest.py) for the attacks on it here,
and a throwaway CA for the SMTP ones."""

from __future__ import annotations

import pytest

from tests.relink_page.conftest import (  # noqa: F401  (fixtures these tests use)
    client,
    clock,
    sim,
    sim_server,
    world,
)
from tests.security.smtp_servers import Pki, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA and server certificates, made once per run."""
    return make_pki(tmp_path_factory.mktemp("pki"))
