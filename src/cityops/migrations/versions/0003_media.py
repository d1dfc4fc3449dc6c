"""media: tus uploads, content-addressed blobs, derivatives, evidence on cases

Revision ID: 0003_media
Revises: 0001
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_media"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "media_uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("length", BIG, nullable=False),
        sa.Column("offset", BIG, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("metadata_header", sa.Text(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("mime", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_media_uploads_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_uploads")),
    )
    op.create_index("ix_media_uploads_owner", "media_uploads", ["owner_id"])
    op.create_index("ix_media_uploads_expiry", "media_uploads", ["status", "expires_at"])

    op.create_table(
        "media_blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", BIG, nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("captured_lat", sa.Float(), nullable=True),
        sa.Column("captured_lon", sa.Float(), nullable=True),
        sa.Column("meta", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_media_blobs")),
    )

    op.create_table(
        "media_derivatives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", BIG, nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["blob_sha256"], ["media_blobs.sha256"],
                                name=op.f("fk_media_derivatives_blob_sha256_media_blobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_derivatives")),
        sa.UniqueConstraint("blob_sha256", "kind", name=op.f("uq_media_derivatives_blob_sha256_kind")),
    )

    op.create_table(
        "media_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column("upload_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("attached_by", sa.Integer(), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("device_lat", sa.Float(), nullable=True),
        sa.Column("device_lon", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("flags", JSON, nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("case_event_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_media_evidence_case_id_cases")),
        sa.ForeignKeyConstraint(["blob_sha256"], ["media_blobs.sha256"],
                                name=op.f("fk_media_evidence_blob_sha256_media_blobs")),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], name=op.f("fk_media_evidence_uploaded_by_users")),
        sa.ForeignKeyConstraint(["attached_by"], ["users.id"], name=op.f("fk_media_evidence_attached_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_evidence")),
        sa.UniqueConstraint("case_id", "blob_sha256", name=op.f("uq_media_evidence_case_id_blob_sha256")),
    )
    op.create_index("ix_media_evidence_case", "media_evidence", ["case_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_media_evidence_case", table_name="media_evidence")
    op.drop_table("media_evidence")
    op.drop_table("media_derivatives")
    op.drop_table("media_blobs")
    op.drop_index("ix_media_uploads_expiry", table_name="media_uploads")
    op.drop_index("ix_media_uploads_owner", table_name="media_uploads")
    op.drop_table("media_uploads")
