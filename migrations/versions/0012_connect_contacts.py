"""connect contacts: a contact belongs to the Stripe account its subject lives on

Revision ID: 0012_connect_contacts
Revises: 0011_connect
Create Date: 2026-11-27 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012_connect_contacts"
down_revision: str | None = "0011_connect"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _subject_index(columns: list[str]) -> None:
    op.create_index("uq_contact_subject", "contact", columns, unique=True)


def upgrade() -> None:
    op.drop_index("uq_contact_subject", table_name="contact")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        # '' is the platform's own objects: every contact so far.
        batch_op.add_column(
            sa.Column(
                "stripe_account",
                sqlmodel.sql.sqltypes.AutoString(length=255),
                nullable=False,
                server_default="",
            )
        )
    _subject_index(["stripe_account", "subject_type", "subject_id"])


def downgrade() -> None:
    op.drop_index("uq_contact_subject", table_name="contact")
    op.execute("DELETE FROM contact WHERE stripe_account != ''")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("stripe_account")
    _subject_index(["subject_type", "subject_id"])
