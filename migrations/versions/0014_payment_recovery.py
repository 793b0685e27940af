"""payment recovery: one row per case and invoice paid again after the repair

Revision ID: 0014_payment_recovery
Revises: 0013_link_revocation
Create Date: 2026-12-03 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014_payment_recovery"
down_revision: str | None = "0013_link_revocation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    # A new table: the previous release neither reads nor writes it.
    op.create_table(
        "payment_recovery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", _string(255), nullable=False),
        sa.Column("customer_id", _string(255), nullable=False),
        sa.Column("payment_method_id", _string(255), nullable=False),
        sa.Column("failed_payment_method_id", _string(255), nullable=False),
        sa.Column("amount_due", sa.Integer(), nullable=False),
        sa.Column("currency", _string(3), nullable=False),
        sa.Column("status", _string(16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["relink_case.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "invoice_id", name="uq_payment_recovery"),
    )
    op.create_index("ix_payment_recovery_case_id", "payment_recovery", ["case_id"], unique=False)
    op.create_index(
        "ix_payment_recovery_invoice_id", "payment_recovery", ["invoice_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_payment_recovery_invoice_id", table_name="payment_recovery")
    op.drop_index("ix_payment_recovery_case_id", table_name="payment_recovery")
    op.drop_table("payment_recovery")
