"""payment method switch: one row per case and new PaymentMethod, its writes as steps

Revision ID: 0010_payment_method_switch
Revises: 0009_platform_api
Create Date: 2026-11-27 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_payment_method_switch"
down_revision: str | None = "0009_platform_api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "payment_method_switch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("payment_method_id", _string(255), nullable=False),
        sa.Column("old_account_id", _string(255), nullable=True),
        sa.Column("customer_id", _string(255), nullable=True),
        sa.Column("status", _string(32), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["relink_case.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "payment_method_id", name="uq_payment_method_switch"),
    )
    op.create_index(
        "ix_payment_method_switch_case_id", "payment_method_switch", ["case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_payment_method_switch_case_id", table_name="payment_method_switch")
    op.drop_table("payment_method_switch")
