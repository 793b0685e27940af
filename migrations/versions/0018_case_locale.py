"""case locale: the language of the case's last email, which its relink page speaks too

Revision ID: 0018_case_locale
Revises: 0017_blocked_payment_methods
Create Date: 2026-12-03 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018_case_locale"
down_revision: str | None = "0017_blocked_payment_methods"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: the previous release neither reads nor writes it (the page then speaks
    # the contact's locale or DEFAULT_LOCALE).
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=35), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("relink_case", schema=None) as batch_op:
        batch_op.drop_column("locale")
