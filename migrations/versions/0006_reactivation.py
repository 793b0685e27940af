"""reactivation: the authorization's warning and last reconciliation, what resolved a case

Revision ID: 0006_reactivation
Revises: 0005_relink_emails
Create Date: 2026-11-26 15:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006_reactivation"
down_revision: str | None = "0005_relink_emails"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fc_authorization", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active_action", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("expected_deactivation_date", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("reconciled_through", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("resolved_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )
        batch_op.create_index("ix_relink_case_state_last_heard", ["state", "last_heard_at"])


def downgrade() -> None:
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.drop_index("ix_relink_case_state_last_heard")
        batch_op.drop_column("resolved_by")
    with op.batch_alter_table("fc_authorization", schema=None) as batch_op:
        batch_op.drop_column("reconciled_through")
        batch_op.drop_column("reconciled_at")
        batch_op.drop_column("expected_deactivation_date")
        batch_op.drop_column("active_action")
