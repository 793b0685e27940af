"""account numbers: the tokenized account number of an FC account (its status and expected
expiry date), read from `account_numbers`

Revision ID: 0016_account_numbers
Revises: 0015_account_replacement
Create Date: 2026-12-03 13:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_account_numbers"
down_revision: str | None = "0015_account_replacement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: the previous release neither reads nor writes them.
    with op.batch_alter_table("fc_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_number_status", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("account_number_expiry", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fc_account", schema=None) as batch_op:
        batch_op.drop_column("account_number_expiry")
        batch_op.drop_column("account_number_status")
