"""Shared fuzzing settings: bounded and derandomized for CI, more under RELINK_FUZZ_EXAMPLES."""

from __future__ import annotations

import os

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from api.app import create_app
from shared.settings import get_settings
from tests.conftest import OLD_WEBHOOK_SECRET, WEBHOOK_SECRET
from tests.relink_page.conftest import (  # noqa: F401  (the relink fuzz tests use them)
    client,
    sim,
    sim_server,
    world,
)

FUZZ_EXAMPLES = int(os.environ.get("RELINK_FUZZ_EXAMPLES", "200"))

FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Nothing relink is configured with may ever come back in a response.
SECRETS = (WEBHOOK_SECRET, OLD_WEBHOOK_SECRET, "sk_test_unit", "unit-test-link-key", "whsec_")


def app_with_schema() -> FastAPI:
    """create_app() serving /openapi.json (EXPOSE_DOCS), for building a schema at import;
    the settings set here are for building it only (each test's own apply per request)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("EXPOSE_DOCS", "true")
        env.setenv("LINK_SIGNING_KEYS", "unit-test-link-key")
        get_settings.cache_clear()
        app = create_app()
    get_settings.cache_clear()
    return app
