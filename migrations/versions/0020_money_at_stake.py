"""money at stake: per case and currency, the recurring revenue and failed invoices on the
broken account

Revision ID: 0020_money_at_stake
Revises: 0019_ops_logout
Create Date: 2026-12-03 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0020_money_at_stake"
down_revision: str | None = "0019_ops_logout"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new table: the previous release neither reads nor writes it.
    op.create_table(
        "case_money",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("currency", AutoString(length=3), nullable=False),
        sa.Column("monthly_at_risk", sa.BigInteger(), nullable=False),
        sa.Column("failed_due", sa.BigInteger(), nullable=False),
        sa.Column("subscriptions", sa.Integer(), nullable=False),
        sa.Column("failed_invoices", sa.Integer(), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["relink_case.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "currency", name="uq_case_money"),
    )
    op.create_index("ix_case_money_case_id", "case_money", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_money_case_id", table_name="case_money")
    op.drop_table("case_money")
