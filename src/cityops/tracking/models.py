"""Tracking tables: devices (定位终端), officer status (勤务状态), position history, patrol assignments (巡查任务),
last patrol per road segment, and auto-dispatch rules per category."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, JSONType, UTCDateTime


class DeviceKind(StrEnum):
    PHONE = "phone"  # 执法终端 / a phone running Traccar Client or the field app
    BODY_CAMERA = "body_camera"  # 执法记录仪
    VEHICLE = "vehicle"  # 执法车


class TravelMode(StrEnum):
    WALK = "walk"
    BIKE = "bike"
    CAR = "car"


class Device(Base):
    __tablename__ = "tracking_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the device sends as `id` / `deviceid` / `device_id` (Traccar's "identifier", e.g. an IMEI).
    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    mode: Mapped[str] = mapped_column(String(8))
    # When set, fixes are accepted only with a device token of the bound officer (Traccar Client cannot send one).
    require_token: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OfficerStatusRow(Base):
    """The officer's own duty setting and the CAD status last derived from it and their open tasks."""

    __tablename__ = "officer_status"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    duty: Mapped[str] = mapped_column(String(16))  # off_duty | on_duty | busy
    status: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duty_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Position(Base):
    """Position history, written in batches. No foreign keys: COPY speed matters and devices are never deleted."""

    __tablename__ = "positions"
    __table_args__ = (Index("ix_positions_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    device_id: Mapped[int] = mapped_column(Integer)
    officer_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)
    bearing: Mapped[float | None] = mapped_column(Float)
    altitude: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    battery: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


# Column order of the COPY / executemany records the history writer produces.
POSITION_COLUMNS = ("device_id", "officer_id", "at", "received_at", "lat", "lon", "speed_mps", "bearing", "altitude",
                    "accuracy_m", "battery", "attributes")


class PatrolAssignment(Base):
    """巡查任务: grids and/or road segments an officer patrols during one shift."""

    __tablename__ = "patrol_assignments"
    __table_args__ = (Index("ix_patrol_assignments_officer", "officer_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    grid_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    segment_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SegmentPatrol(Base):
    """When a road segment (路段) was last traversed by an officer, kept up to date by the history writer."""

    __tablename__ = "road_segment_patrols"

    segment_id: Mapped[int] = mapped_column(ForeignKey("road_segments.id", ondelete="CASCADE"), primary_key=True)
    last_patrolled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_officer_id: Mapped[int | None] = mapped_column(Integer)


class AutoDispatchRule(Base):
    """自动派遣: when a case of this category is filed, dispatch it to the best-ranked officer."""

    __tablename__ = "auto_dispatch_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Dispatch only when the best officer makes the arrival limit; otherwise leave the case to a dispatcher.
    require_deadline: Mapped[bool] = mapped_column(Boolean, default=True)
    # The dispatcher who set the rule; auto-dispatches are recorded as theirs (with the rule id in the note).
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
