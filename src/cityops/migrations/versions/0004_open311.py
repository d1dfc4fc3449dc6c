"""open311: API keys and submission extras

Revision ID: 0004_open311
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_open311"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open311_api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("burst", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_open311_api_keys_user_id_users")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_open311_api_keys_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_api_keys")),
        sa.UniqueConstraint("name", name=op.f("uq_open311_api_keys_name")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_api_keys_key_hash")),
    )
    op.create_table(
        "open311_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("attributes", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("device_id", sa.String(length=100), nullable=True),
        sa.Column("account_id", sa.String(length=100), nullable=True),
        sa.Column("address_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_open311_submissions_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["api_key_id"], ["open311_api_keys.id"],
                                name=op.f("fk_open311_submissions_api_key_id_open311_api_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_submissions")),
        sa.UniqueConstraint("case_id", name=op.f("uq_open311_submissions_case_id")),
    )


def downgrade() -> None:
    op.drop_table("open311_submissions")
    op.drop_table("open311_api_keys")
