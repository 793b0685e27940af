"""Fault-injection fixtures: the integration stack (real api, workers, PostgreSQL through a
cuttable proxy, a private Redis, the simulator, an SMTP sink) and the suite's result table,
printed at the end of the session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from _pytest.terminal import TerminalReporter

from tests.integration.conftest import (  # noqa: F401  (fixtures used by this suite)
    migrated_database,
    pg,
    pg_proxy,
    redis_server,
    sim,
    smtp,
    stack,
    stack_env,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "faults" in item.path.parts:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of the suite's own (not the integration suite's)."""
    yield from migrated_database("relink_faults")


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
        f"{'dup':>4} {'lost':>5} {'wrong':>5} {'s':>6}"
    )
    for row in ROWS:
        write(
            f"{row.fault:<34} {row.accepted:>8} {row.processed:>9} {row.emails_due:>5} "
            f"{row.sent:>5} {row.duplicates:>4} {row.lost:>5} {row.wrong_state:>5} "
            f"{row.seconds:>6.0f}"
        )
    notes = [f"  {row.fault}: {row.note}" for row in ROWS if row.note]
    if notes:
        write("notes:")
        for note in notes:
            write(note)
