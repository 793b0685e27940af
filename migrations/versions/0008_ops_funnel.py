"""ops funnel: when a case's link was first opened (the operations dashboard's funnel)

Revision ID: 0008_ops_funnel
Revises: 0007_platform_webhooks
Create Date: 2026-11-27 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_ops_funnel"
down_revision: str | None = "0007_platform_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("link_first_opened_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.drop_column("link_first_opened_at")
