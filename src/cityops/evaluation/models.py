"""Evaluation tables: survey answers, survey links, phone call-backs (回访), supervision flag reviews; and the
indexes on case tables that the monthly indicators and the flags read through."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityops.case.models import Case, CaseEvent, CaseRequest, HandlingRecord
from cityops.db import Base, UTCDateTime


class SurveyResponse(Base):
    """A resident's rating gathered by the survey (link from the portal / Open311, or a phone call-back).

    One per case; the case's own 评价 (``cases.satisfaction``) takes precedence in the indicators."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # portal | open311 | callback
    satisfaction: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SurveyToken(Base):
    """A single-use survey link for the reporter of a closed case; only the token's SHA-256 is stored."""

    __tablename__ = "survey_tokens"
    __table_args__ = (Index("ix_survey_tokens_case", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # portal | open311
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SurveyCallback(Base):
    """One case on a month's call-back list (电话回访) and how the call went."""

    __tablename__ = "survey_callbacks"
    __table_args__ = (UniqueConstraint("month", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    sampled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|reached|unreachable|declined
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    called_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)


class FlagReview(Base):
    """A supervisor's decision on one supervision flag of one period (acknowledged, dismissed, referred)."""

    __tablename__ = "flag_reviews"
    __table_args__ = (UniqueConstraint("rule", "subject_key", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(32))
    subject_key: Mapped[str] = mapped_column(String(120))
    period: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    case_ids: Mapped[str] = mapped_column(Text, default="")  # the cases behind the flag when it was reviewed
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


# Indexes on tables of the case package, declared here (and created by migration 0005) because only the
# evaluation reads through them: the month's cohort by filing time, closures per category (recurrence),
# timeline entries by action and time (role indicators, arrival flags), requests per case, fines by time.
CASE_INDEXES = (
    Index("ix_cases_filed_at", Case.filed_at),
    Index("ix_cases_category_closed", Case.category_id, Case.closed_at),
    Index("ix_case_events_action_at", CaseEvent.action, CaseEvent.at),
    Index("ix_case_requests_case_kind", CaseRequest.case_id, CaseRequest.kind),
    Index("ix_handling_records_measure_at", HandlingRecord.measure, HandlingRecord.at),
)
