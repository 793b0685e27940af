"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from shared import migrate
from shared.db import get_engine


def test_upgrade_head_on_sqlite_matches_the_models() -> None:
    migrate.upgrade()
    with get_engine().connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        tables = set(inspect(connection).get_table_names())
    assert diff == []
    assert {"webhook_event", "fc_account", "relink_case", "email_outbox"} <= tables
