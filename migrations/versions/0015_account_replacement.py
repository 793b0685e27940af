"""account replacement: `fc_account.replaced_by` names the account a new-account relink linked
in its place (the old one then never asks for a relink again)

Revision ID: 0015_account_replacement
Revises: 0014_payment_recovery
Create Date: 2026-12-03 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_account_replacement"
down_revision: str | None = "0014_payment_recovery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: the previous release neither reads nor writes it.
    with op.batch_alter_table("fc_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replaced_by", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fc_account", schema=None) as batch_op:
        batch_op.drop_column("replaced_by")
