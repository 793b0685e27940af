"""platform webhooks: the outbox of events for the platform, its attempts, per-case sequences

Revision ID: 0007_platform_webhooks
Revises: 0006_reactivation
Create Date: 2026-11-27 01:48:22.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_platform_webhooks"
down_revision: str | None = "0006_reactivation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "platform_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("sequence_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retrying_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sequence_key", "sequence", name="uq_platform_event_sequence"),
        sa.UniqueConstraint("webhook_id"),
    )
    with op.batch_alter_table("platform_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_platform_event_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_platform_event_status_next_attempt", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "platform_sequence",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "platform_event_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["platform_event.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("platform_event_attempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_platform_event_attempt_event_id"), ["event_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("platform_event_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_platform_event_attempt_event_id"))

    op.drop_table("platform_event_attempt")
    op.drop_table("platform_sequence")
    with op.batch_alter_table("platform_event", schema=None) as batch_op:
        batch_op.drop_index("ix_platform_event_status_next_attempt")
        batch_op.drop_index(batch_op.f("ix_platform_event_case_id"))

    op.drop_table("platform_event")
