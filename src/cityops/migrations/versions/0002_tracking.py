"""tracking: devices, officer status, position history, patrols, road-segment patrols, auto-dispatch rules

Revision ID: 0002_tracking
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_tracking"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tracking_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("require_token", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["officer_id"], ["users.id"], name=op.f("fk_tracking_devices_officer_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_devices")),
        sa.UniqueConstraint("identifier", name=op.f("uq_tracking_devices_identifier")),
    )
    op.create_index(op.f("ix_tracking_devices_officer_id"), "tracking_devices", ["officer_id"], unique=False)

    op.create_table(
        "officer_status",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("duty", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("duty_changed_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_officer_status_case_id_cases"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_officer_status_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_officer_status")),
    )

    op.create_table(
        "positions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("bearing", sa.Float(), nullable=True),
        sa.Column("altitude", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("battery", sa.Float(), nullable=True),
        sa.Column("attributes", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
    )
    op.create_index("ix_positions_device_at", "positions", ["device_id", "at"], unique=False)

    op.create_table(
        "patrol_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("grid_ids", JSON, nullable=False),
        sa.Column("segment_ids", JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_patrol_assignments_created_by_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["officer_id"], ["users.id"], name=op.f("fk_patrol_assignments_officer_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_assignments")),
    )
    op.create_index("ix_patrol_assignments_officer", "patrol_assignments", ["officer_id", "starts_at"], unique=False)

    op.create_table(
        "road_segment_patrols",
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("last_patrolled_at", TS, nullable=False),
        sa.Column("last_officer_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["segment_id"], ["road_segments.id"],
                                name=op.f("fk_road_segment_patrols_segment_id_road_segments"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("segment_id", name=op.f("pk_road_segment_patrols")),
    )

    op.create_table(
        "auto_dispatch_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("require_deadline", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["categories.id"],
                                name=op.f("fk_auto_dispatch_rules_category_id_categories"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_auto_dispatch_rules_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auto_dispatch_rules")),
        sa.UniqueConstraint("category_id", name=op.f("uq_auto_dispatch_rules_category_id")),
    )


def downgrade() -> None:
    op.drop_table("auto_dispatch_rules")
    op.drop_table("road_segment_patrols")
    op.drop_index("ix_patrol_assignments_officer", table_name="patrol_assignments")
    op.drop_table("patrol_assignments")
    op.drop_index("ix_positions_device_at", table_name="positions")
    op.drop_table("positions")
    op.drop_table("officer_status")
    op.drop_index(op.f("ix_tracking_devices_officer_id"), table_name="tracking_devices")
    op.drop_table("tracking_devices")
