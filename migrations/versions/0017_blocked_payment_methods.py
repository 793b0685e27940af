"""blocked payment methods: the case's PaymentMethods Stripe blocked (a tokenized account
number deactivated), as read from Stripe

Revision ID: 0017_blocked_payment_methods
Revises: 0016_account_numbers
Create Date: 2026-12-03 13:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_blocked_payment_methods"
down_revision: str | None = "0016_account_numbers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: the previous release neither reads nor writes it.
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blocked_payment_methods", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.drop_column("blocked_payment_methods")
