"""Which code runs on which schema (docs/operating.md: Upgrading).

A release needs the database at least at its own schema, SCHEMA_REVISION: `relink migrate`
comes first. The database names, in schema_compat, the oldest release schema whose code still
runs on it; a migration that breaks older code (a contract step) raises it. The api and the
worker check both at start and refuse a mismatch; PostgreSQL connections carry the release's
schema as application_name, so `relink migrate` can tell which releases are still connected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import OperationalError

# This release's newest migration (tests/shared/test_schema_compat.py keeps it the head).
SCHEMA_REVISION = "0023_schema_compat"
APPLICATION_NAME = f"relink {SCHEMA_REVISION}"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DatabaseSchema:
    revision: str | None  # alembic_version; None where no migration ever ran (create_all)
    oldest_code: str | None  # schema_compat; None before 0023


def refusal(database: DatabaseSchema, known: Sequence[str]) -> str | None:
    """Why this release must not run on `database`, or None. `known`: this release's
    migrations, oldest first."""
    if database.revision is None or database.revision == SCHEMA_REVISION:
        return None
    if database.revision in known:
        return (
            f"the database is at schema {database.revision}, this release needs "
            f"{SCHEMA_REVISION}: run `relink migrate` first"
        )
    if database.oldest_code in known:
        return None  # a newer schema this release's code still runs on
    return (
        f"the database is at schema {database.revision}, which runs code of schema "
        f"{database.oldest_code or 'unknown'} or newer only; this release is at "
        f"{SCHEMA_REVISION}: deploy a newer release, or downgrade the database"
    )


def stale_sessions(
    application_names: Sequence[str], oldest_code: str, known: Sequence[str]
) -> list[str]:
    """What `relink migrate` warns about, given every other session's application_name: each
    relink release still connected whose schema is older than `oldest_code` (it cannot run on
    this schema), and sessions naming no release (one from before 0023, or another client)."""
    floor = known.index(oldest_code) if oldest_code in known else len(known)
    warnings: list[str] = []
    for name, count in sorted(Counter(application_names).items()):
        revision = name.removeprefix("relink ")
        if not name:
            warnings.append(
                f"{count} connection(s) name no relink release (relink before "
                f"0023_schema_compat, or another client): relink older than schema "
                f"{oldest_code} cannot run on this schema; stop it"
            )
        elif revision != name and revision in known and known.index(revision) < floor:
            warnings.append(
                f"{count} connection(s) from relink at schema {revision}, which cannot run "
                f"on this schema (oldest {oldest_code}): stop those processes"
            )
    return warnings


def known_revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    from shared.migrate import alembic_config

    return [
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    ][::-1]


def read_schema(connection: Connection) -> DatabaseSchema:
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" not in tables:
        return DatabaseSchema(None, None)
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    oldest = None
    if "schema_compat" in tables:
        oldest = connection.execute(text("SELECT oldest_code_revision FROM schema_compat")).scalar()
    return DatabaseSchema(revision, oldest)


def require_compatible_schema(engine: Engine) -> None:
    """Stop start-up (SystemExit with the reason) when this release must not run on the
    database; one that cannot be reached is left to the readiness check and the retries."""
    try:
        with engine.connect() as connection:
            database = read_schema(connection)
    except OperationalError as exc:
        log.warning("schema_check_skipped", reason=type(exc).__name__)
        return
    finally:
        # No pooled connection outlives the check: the worker's main process forks its pool
        # children after it, and a connection shared across a fork breaks in both.
        engine.dispose()
    reason = refusal(database, known_revisions())
    if reason is not None:
        log.error("schema_mismatch", reason=reason)
        raise SystemExit(f"relink: {reason}")


def other_sessions(connection: Connection) -> list[str]:
    """Every other session's application_name on this PostgreSQL database (none on SQLite)."""
    if connection.dialect.name != "postgresql":
        return []
    rows = connection.execute(
        text(
            "SELECT application_name FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        )
    )
    return [row[0] or "" for row in rows]
