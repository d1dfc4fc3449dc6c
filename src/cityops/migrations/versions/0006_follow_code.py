"""Private follow code of a case (the resident portal's "follow this report" link).

Revision ID: 0006_follow_code
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_follow_code"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("follow_code", sa.String(length=32), nullable=True))
        batch.create_index("ix_cases_follow_code", ["follow_code"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_follow_code")
        batch.drop_column("follow_code")
