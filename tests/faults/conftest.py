"""Fault-injection fixtures: the integration stack (real api, workers, PostgreSQL through a
cuttable proxy, a private Redis, the simulator, an SMTP sink, a platform webhook receiver) and
the suite's result table, printed at the end of the session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from _pytest.terminal import TerminalReporter

from tests.integration.conftest import (  # noqa: F401  (fixtures used by this suite)
    migrated_database,
    pg,
    pg_proxy,
    rabbitmq_url,
    receiver,
    redis_server,
    sim,
    smtp,
    stack,
)
from tests.platform_webhooks.receiver import SECRET, Receiver

# One reminder this long after the relink email: each case's events are then `opened` (1) and
# `reminder_due` (2), so the webhook columns see a sequence longer than one.
REMINDER_AFTER_SECONDS = 3.0
REMINDERS = 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "faults" in item.path.parts:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of the suite's own (not the integration suite's)."""
    yield from migrated_database("relink_faults")


@pytest.fixture
def stack_env(receiver: Receiver) -> dict[str, str]:  # noqa: F811  (the imported fixture)
    """Every fault test also delivers platform webhooks (and emails: DELIVERY=both), with
    retries short enough to drain within the test."""
    return {
        "DELIVERY": "both",
        "PLATFORM_WEBHOOK_URL": receiver.url,
        "PLATFORM_WEBHOOK_SECRETS": SECRET,
        "PLATFORM_WEBHOOK_TIMEOUT_SECONDS": "3",
        "PLATFORM_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
        "PLATFORM_WEBHOOK_RETRY_CAP_SECONDS": "4",
        "PLATFORM_WEBHOOK_SWEEP_EVERY_SECONDS": "1",
        "REMINDER_DELAYS_DAYS": repr(REMINDER_AFTER_SECONDS / 86400),
    }


@dataclass
class FaultRow:
    fault: str
    accepted: int = 0
    processed: int = 0
    emails_due: int = 0
    sent: int = 0
    duplicates: int = 0
    lost: int = 0
    wrong_state: int = 0
    webhooks_expected: int = 0
    webhooks_delivered: int = 0  # distinct webhook-ids
    duplicate_deliveries: int = 0  # one webhook-id accepted again (allowed: at least once)
    duplicate_events: int = 0  # two webhook-ids for one event
    webhooks_lost: int = 0
    gaps: int = 0  # sequence keys (cases, accounts) not numbered 1..n
    out_of_order: int = 0  # sequence keys whose arrivals went backwards
    seconds: float = 0.0
    note: str = ""


ROWS: list[FaultRow] = []


@pytest.fixture
def fault_table() -> list[FaultRow]:
    """Append one row per fault; the table is printed when the session ends."""
    return ROWS


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    if not ROWS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault injection")
    write(
        f"{'fault':<34} {'accepted':>8} {'processed':>9} {'due':>5} {'sent':>5} "
        f"{'dup':>4} {'lost':>5} {'wrong':>5} | {'wh exp':>6} {'wh got':>6} {'dup dlv':>7} "
        f"{'dup evt':>7} {'wh lost':>7} {'gaps':>4} {'ooo':>4} | {'s':>5}"
    )
    for row in ROWS:
        write(
            f"{row.fault:<34} {row.accepted:>8} {row.processed:>9} {row.emails_due:>5} "
            f"{row.sent:>5} {row.duplicates:>4} {row.lost:>5} {row.wrong_state:>5} | "
            f"{row.webhooks_expected:>6} {row.webhooks_delivered:>6} "
            f"{row.duplicate_deliveries:>7} {row.duplicate_events:>7} {row.webhooks_lost:>7} "
            f"{row.gaps:>4} {row.out_of_order:>4} | {row.seconds:>5.0f}"
        )
    notes = [f"  {row.fault}: {row.note}" for row in ROWS if row.note]
    if notes:
        write("notes:")
        for note in notes:
            write(note)
