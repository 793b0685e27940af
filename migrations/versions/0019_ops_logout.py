"""ops logout: a session an operator logged out of is refused, not only its cookie deleted

Revision ID: 0019_ops_logout
Revises: 0018_case_locale
Create Date: 2026-12-03 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_ops_logout"
down_revision: str | None = "0018_case_locale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new table: the previous release never reads it (its logouts only delete the cookie).
    op.create_table(
        "ops_session_end",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id"),
    )


def downgrade() -> None:
    op.drop_table("ops_session_end")
