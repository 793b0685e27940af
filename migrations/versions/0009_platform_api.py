"""platform api: API keys, platform-set contacts, a case's updated_at

Revision ID: 0009_platform_api
Revises: 0008_ops_funnel
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_platform_api"
down_revision: str | None = "0008_ops_funnel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", _string(32), nullable=False),
        sa.Column("key_hash", _string(64), nullable=False),
        sa.Column("name", _string(255), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix"),
    )
    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_type", _string(16), nullable=False),
        sa.Column("subject_id", _string(255), nullable=False),
        sa.Column("email", _string(320), nullable=False),
        sa.Column("name", _string(255), nullable=True),
        sa.Column("locale", _string(35), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_contact_subject", "contact", ["subject_type", "subject_id"], unique=True)
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    # A case's last change so far: its resolution, else the last event heard.
    op.execute("UPDATE relink_case SET updated_at = COALESCE(resolved_at, last_heard_at)")
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.alter_column("updated_at", nullable=False)
        batch_op.create_index("ix_relink_case_updated_at", ["updated_at"])


def downgrade() -> None:
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.drop_index("ix_relink_case_updated_at")
        batch_op.drop_column("updated_at")
    op.drop_index("uq_contact_subject", table_name="contact")
    op.drop_table("contact")
    op.drop_table("api_key")
