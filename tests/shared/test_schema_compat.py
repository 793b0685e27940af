"""Which code runs on which schema: the start-up refusal and `relink migrate`'s warnings."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shared import migrate
from shared.db import get_engine
from shared.schema_compat import (
    SCHEMA_REVISION,
    DatabaseSchema,
    known_revisions,
    read_schema,
    refusal,
    stale_sessions,
)

KNOWN = ["0001", "0013", SCHEMA_REVISION]
# A case as code from before 0009 writes it: no updated_at.
OLD_CASE_INSERT = text(
    "INSERT INTO relink_case (authorization_id, state, opened_at, last_heard_at, emails_sent)"
    " VALUES ('fcauth_1', 'open', '2026-01-01', '2026-01-01', 0)"
)


def test_the_release_names_its_newest_migration() -> None:
    heads = ScriptDirectory.from_config(migrate.alembic_config()).get_heads()
    assert heads == [SCHEMA_REVISION]
    assert known_revisions()[-1] == SCHEMA_REVISION
    assert known_revisions()[0] == "0001"


def test_the_same_schema_or_one_never_migrated_runs() -> None:
    assert refusal(DatabaseSchema(SCHEMA_REVISION, "0013"), KNOWN) is None
    assert refusal(DatabaseSchema(None, None), KNOWN) is None


def test_an_older_schema_asks_for_relink_migrate_first() -> None:
    reason = refusal(DatabaseSchema("0013", None), KNOWN)
    assert reason is not None
    assert "at schema 0013" in reason
    assert "run `relink migrate` first" in reason


def test_a_newer_schema_runs_while_it_names_this_release_or_older_as_its_oldest_code() -> None:
    assert refusal(DatabaseSchema("0030_future", SCHEMA_REVISION), KNOWN) is None
    assert refusal(DatabaseSchema("0030_future", "0013"), KNOWN) is None
    reason = refusal(DatabaseSchema("0030_future", "0029_future"), KNOWN)
    assert reason is not None
    assert "0029_future or newer only" in reason
    assert "deploy a newer release" in reason
    assert refusal(DatabaseSchema("0030_future", None), KNOWN) is not None


def test_migrate_warns_of_unnamed_sessions_and_releases_too_old_for_the_schema() -> None:
    names = ["", "", "relink 0001", f"relink {SCHEMA_REVISION}", "relink 0013", "relink 0031"]
    warnings = stale_sessions(names, "0013", KNOWN)
    assert len(warnings) == 2
    assert warnings[0].startswith("2 connection(s) name no relink release")
    assert warnings[1].startswith("1 connection(s) from relink at schema 0001")
    assert stale_sessions([f"relink {SCHEMA_REVISION}", "relink 0013"], "0013", KNOWN) == []


def test_a_migrated_database_reads_its_revision_and_oldest_code() -> None:
    migrate.upgrade()
    with get_engine().connect() as connection:
        assert read_schema(connection) == DatabaseSchema(SCHEMA_REVISION, "0013_link_revocation")
        connection.execute(text("DROP TABLE alembic_version"))
        assert read_schema(connection) == DatabaseSchema(None, None)


def test_0023_round_trips_on_sqlite_and_defaults_a_case_updated_at() -> None:
    migrate.upgrade()
    config = migrate.alembic_config()
    command.downgrade(config, "0021_webhook_operations")
    with get_engine().connect() as connection:
        assert read_schema(connection) == DatabaseSchema("0021_webhook_operations", None)
        with pytest.raises(IntegrityError):
            connection.execute(OLD_CASE_INSERT)
    command.upgrade(config, "head")
    with get_engine().begin() as connection:
        connection.execute(OLD_CASE_INSERT)
        stamped = connection.execute(text("SELECT updated_at FROM relink_case")).scalar()
    assert stamped is not None
