"""Shared fuzzing settings: bounded and derandomized for CI, more under RELINK_FUZZ_EXAMPLES."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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
