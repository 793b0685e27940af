"""webhook operations: each attempt's response body, a delivery's last redelivery, and the
platform endpoint's standing (failing since, disabled)

Revision ID: 0021_webhook_operations
Revises: 0020_money_at_stake
Create Date: 2026-12-03 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_webhook_operations"
down_revision: str | None = "0020_money_at_stake"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Additive and nullable: the previous release's worker inserts attempts without a body
    # and never reads the new table; `held` rows are a status it does not claim.
    op.add_column("platform_event_attempt", sa.Column("response_body", sa.Text(), nullable=True))
    op.add_column(
        "platform_event", sa.Column("redelivered_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "platform_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    # Held deliveries go back to pending: the previous release delivers them.
    op.execute("UPDATE platform_event SET status = 'pending' WHERE status = 'held'")
    op.drop_table("platform_endpoint")
    op.drop_column("platform_event", "redelivered_at")
    op.drop_column("platform_event_attempt", "response_body")
