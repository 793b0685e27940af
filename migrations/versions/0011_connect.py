"""connect: the Stripe account an object lives on, part of its key

Revision ID: 0011_connect
Revises: 0010_payment_method_switch
Create Date: 2026-11-27 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011_connect"
down_revision: str | None = "0010_payment_method_switch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "state IN ('open', 'proactive', 'no_contact')"


def _string() -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=255)


def _account_column(*, primary_key: bool = False) -> sa.Column:  # type: ignore[type-arg]
    # '' is the platform's own objects: every row so far.
    return sa.Column(
        "stripe_account", _string(), nullable=False, server_default="", primary_key=primary_key
    )


def _primary_key(table: str, columns: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(f"{table}_pkey", table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, columns)
    else:  # SQLite: the table is rebuilt with the key's columns marked
        key = [sa.Column("id", _string(), nullable=False, primary_key=True)]
        if "stripe_account" in columns:
            key.append(_account_column(primary_key=True))
        with op.batch_alter_table(table, recreate="always", reflect_args=key):
            pass


def _open_case_index(columns: list[str]) -> None:
    op.drop_index("uq_relink_case_open_authorization", table_name="relink_case")
    op.create_index(
        "uq_relink_case_open_authorization",
        "relink_case",
        columns,
        unique=True,
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )


def upgrade() -> None:
    for table in ("fc_authorization", "fc_account", "relink_case"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(_account_column())
    _primary_key("fc_authorization", ["id", "stripe_account"])
    _primary_key("fc_account", ["id", "stripe_account"])
    _open_case_index(["stripe_account", "authorization_id"])


def downgrade() -> None:
    _open_case_index(["authorization_id"])
    op.execute("DELETE FROM fc_account WHERE stripe_account != ''")
    op.execute("DELETE FROM fc_authorization WHERE stripe_account != ''")
    _primary_key("fc_account", ["id"])
    _primary_key("fc_authorization", ["id"])
    for table in ("relink_case", "fc_account", "fc_authorization"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("stripe_account")
