"""relink page: payment method and fresh-link request on the case, outcome times on attempts

Revision ID: 0004_relink_page
Revises: 0001
Create Date: 2026-11-26 14:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004_relink_page"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "payment_method_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("fresh_link_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("relink_attempt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "payment_method_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
            )
        )
        batch_op.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("relink_attempt", schema=None) as batch_op:
        batch_op.drop_column("completed_at")
        batch_op.drop_column("payment_method_id")
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.drop_column("fresh_link_requested_at")
        batch_op.drop_column("payment_method_id")
