"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError
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


def test_0011_keys_objects_by_stripe_account_and_keeps_existing_rows_the_platforms() -> None:
    migrate.upgrade(revision="0010_payment_method_switch")
    engine = get_engine()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO fc_account (id, status, permissions, state_at, updated_at)"
                " VALUES ('fca_1', 'active', '[]', 0, '2026-01-01')"
            )
        )
    migrate.upgrade()
    insert = text(
        "INSERT INTO fc_account (id, stripe_account, status, permissions, state_at, updated_at)"
        " VALUES ('fca_1', :account, 'active', '[]', 0, '2026-01-01')"
    )
    with engine.begin() as connection:
        connection.execute(insert, {"account": "acct_A"})  # the same id on a connected account
    assert _column(engine, "SELECT stripe_account FROM fc_account ORDER BY 1") == ["", "acct_A"]
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert, {"account": "acct_A"})  # twice on one account: refused
    command.downgrade(migrate.alembic_config(), "0010_payment_method_switch")
    assert _column(engine, "SELECT id FROM fc_account") == ["fca_1"]  # the connected one goes


def _column(engine: Engine, query: str) -> list[object]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text(query))]


def test_0012_keys_contacts_by_stripe_account_and_keeps_existing_ones_the_platforms() -> None:
    migrate.upgrade(revision="0011_connect")
    engine = get_engine()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO contact (subject_type, subject_id, email, updated_at)"
                " VALUES ('customer', 'cus_1', 'mine@example.com', '2026-01-01')"
            )
        )
    migrate.upgrade()
    insert = text(
        "INSERT INTO contact (stripe_account, subject_type, subject_id, email, updated_at)"
        " VALUES (:account, 'customer', 'cus_1', 'theirs@example.com', '2026-01-01')"
    )
    with engine.begin() as connection:
        connection.execute(insert, {"account": "acct_A"})  # the same id on a connected account
    assert _column(engine, "SELECT stripe_account FROM contact ORDER BY 1") == ["", "acct_A"]
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert, {"account": "acct_A"})  # twice on one account: refused
    command.downgrade(migrate.alembic_config(), "0011_connect")
    assert _column(engine, "SELECT email FROM contact") == ["mine@example.com"]
    with pytest.raises(IntegrityError), engine.begin() as connection:  # the old key is back
        connection.execute(
            text(
                "INSERT INTO contact (subject_type, subject_id, email, updated_at)"
                " VALUES ('customer', 'cus_1', 'again@example.com', '2026-01-01')"
            )
        )
    migrate.upgrade()
    with get_engine().connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []
