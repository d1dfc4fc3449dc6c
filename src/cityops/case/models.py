"""Cases (案卷), their timeline, approval requests, handling records, escalations, idempotency keys."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, JSONType, UTCDateTime


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status", "status"),
        Index("ix_cases_created", "created_at"),
        Index("ix_cases_department", "department_id", "status"),
        Index("ix_cases_officer", "officer_id", "status"),
        Index("ix_cases_reporter", "reporter_id"),
        Index("ix_cases_due", "due_at"),
        Index("ix_cases_follow_code", "follow_code", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(32), unique=True)  # 案卷号, Open311 service_request_id
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    condition_id: Mapped[int | None] = mapped_column(ForeignKey("filing_conditions.id"))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    pending_request_id: Mapped[int | None] = mapped_column(Integer)
    status_before_suspend: Mapped[str | None] = mapped_column(String(16))
    check_passed: Mapped[bool | None] = mapped_column(Boolean)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    # Deadlines. The case clock starts at dispatch (派遣); step clocks per the settings.
    deadline_value: Mapped[float | None] = mapped_column(Float)
    deadline_unit: Mapped[str | None] = mapped_column(String(16))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[str | None] = mapped_column(String(16))  # which step clock runs: file/arrive/feedback/check
    step_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    step_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pauses: Mapped[list[list[str]]] = mapped_column(JSONType, default=list)  # closed [start, end] ISO pairs
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    # A secret per case: whoever holds the link can follow the case's progress, without an account.
    follow_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fed_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class CaseEvent(Base):
    """One row per transition: who, when, where, note, attachments — the case timeline."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[str]] = mapped_column(JSONType, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class CaseRequest(Base):
    """A side action awaiting approval: 回退 return, 延期 extension, 挂账 suspension, 作废 void."""

    __tablename__ = "case_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    extra_value: Mapped[float | None] = mapped_column(Float)
    extra_unit: Mapped[str | None] = mapped_column(String(16))
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decision: Mapped[str | None] = mapped_column(String(16))  # approved | rejected
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class HandlingRecord(Base):
    """What was done on site, as data (supervision and evaluation read it)."""

    __tablename__ = "handling_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    measure: Mapped[str] = mapped_column(String(32))
    fine_amount: Mapped[float | None] = mapped_column(Float)
    party_name: Mapped[str | None] = mapped_column(String(200))
    party_kind: Mapped[str | None] = mapped_column(String(16))  # person | shop | company
    party_id_number: Mapped[str | None] = mapped_column(String(64))
    evidence_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Escalation(Base):
    """督办: the unique key makes "escalate once" hold however many sweepers run at the same time."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("case_id", "reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(80))
    level: Mapped[int] = mapped_column(Integer, default=1)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)


class CaseCounter(Base):
    """Per-day sequence behind the human case number (案卷号) YYYYMMDD + 5 digits."""

    __tablename__ = "case_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CalendarOverride(Base):
    """The bureau's own working-day overrides on top of the statutory calendar."""

    __tablename__ = "calendar_overrides"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(200))
