"""relink emails: the account that opened a case, recipient looked up at send time, sweep index

Revision ID: 0005_relink_emails
Revises: 0004_relink_page
Create Date: 2026-11-26 14:38:27.936035
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005_relink_emails"
down_revision: str | None = "0004_relink_page"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("email_outbox", schema=None) as batch_op:
        batch_op.alter_column("recipient", existing_type=sa.VARCHAR(length=320), nullable=True)
        batch_op.create_index(
            "ix_email_outbox_status_send_after", ["status", "send_after"], unique=False
        )

    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.drop_column("account_id")

    with op.batch_alter_table("email_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_email_outbox_status_send_after")
        batch_op.alter_column("recipient", existing_type=sa.VARCHAR(length=320), nullable=False)
