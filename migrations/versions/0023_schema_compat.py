"""schema compat: the oldest release schema whose code runs on this one; a case's updated_at
defaults to now

Revision ID: 0023_schema_compat
Revises: 0021_webhook_operations
Create Date: 2026-12-03 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_schema_compat"
down_revision: str | None = "0021_webhook_operations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The previous release (schema 0013) runs on this schema, tested by tests/deploy. A release
# before 0011 cannot: its `ON CONFLICT (id)` on fc_authorization finds no unique index on
# (id) alone, and one cannot be added without refusing Connect's same id on two accounts.
OLDEST_CODE = "0013_link_revocation"


def upgrade() -> None:
    # Code from before 0009 inserts cases without updated_at.
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.alter_column(
            "updated_at",
            existing_type=sa.DateTime(timezone=True),
            existing_nullable=False,
            server_default=sa.text("CURRENT_TIMESTAMP"),
        )
    table = op.create_table(
        "schema_compat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("oldest_code_revision", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("id = 1", name="ck_schema_compat_one_row"),
    )
    op.bulk_insert(table, [{"id": 1, "oldest_code_revision": OLDEST_CODE}])


def downgrade() -> None:
    op.drop_table("schema_compat")
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.alter_column(
            "updated_at",
            existing_type=sa.DateTime(timezone=True),
            existing_nullable=False,
            server_default=None,
        )
