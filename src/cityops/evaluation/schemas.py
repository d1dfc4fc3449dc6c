"""Request and response bodies of the evaluation API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PeriodOut(BaseModel):
    label: str
    start: datetime
    end: datetime


class IndicatorDef(BaseModel):
    key: str
    zh: str
    en: str
    kind: str
    formula: str
    better: str


class IndicatorRow(BaseModel):
    key: int | str | None
    label: str
    values: dict[str, float | None]
    counts: dict[str, float]


class IndicatorTable(BaseModel):
    period: PeriodOut
    scope: str
    scope_id: int | None
    by: str | None
    as_of: datetime
    total: IndicatorRow
    groups: list[IndicatorRow]


class PartOut(BaseModel):
    indicator: str
    weight: float
    value: float | None
    points: float | None


class ScoreOut(BaseModel):
    id: int
    name: str
    score: float | None
    grade: str | None
    cases: int
    parts: list[PartOut]
    counts: dict[str, float]


class CompositeOut(BaseModel):
    period: PeriodOut
    subject: str
    scores: list[ScoreOut]


class FlagCaseOut(BaseModel):
    case_id: int
    case_no: str
    at: datetime | None
    why: str


class ReviewOut(BaseModel):
    decision: str
    note: str | None
    by_user_id: int
    at: datetime


class FlagOut(BaseModel):
    rule: str
    title_zh: str
    title_en: str
    subject_key: str
    subject: str
    summary: str
    summary_zh: str
    metrics: dict[str, Any]
    cases: list[FlagCaseOut]
    review: ReviewOut | None


class FlagList(BaseModel):
    period: PeriodOut
    flags: list[FlagOut]


class FlagReviewIn(_In):
    month: str | None = Field(default=None, max_length=7)
    date_from: str | None = Field(default=None, alias="from", max_length=10)
    date_to: str | None = Field(default=None, alias="to", max_length=10)
    rule: str = Field(max_length=32)
    subject_key: str = Field(max_length=120)
    decision: Literal["acknowledged", "dismissed", "referred"]
    note: str | None = Field(default=None, max_length=2000)


class CallbackOut(BaseModel):
    id: int
    month: str
    case_id: int
    case_no: str
    title: str
    address: str | None
    closed_at: datetime | None
    reporter_name: str | None
    reporter_phone: str | None  # in full: the operator has to dial it
    status: str
    attempts: int
    called_at: datetime | None
    note: str | None


class CallbackList(BaseModel):
    month: str
    drawn_now: bool = False
    items: list[CallbackOut]


class CallbackIn(_In):
    outcome: Literal["reached", "unreachable", "declined"]
    satisfaction: str | None = None
    note: str | None = Field(default=None, max_length=2000)


class LinkOut(BaseModel):
    case_id: int
    case_no: str
    channel: str
    token: str
    path: str
    expires_at: datetime


class LinksIn(_In):
    month: str = Field(max_length=7)


class SurveyCaseOut(BaseModel):
    case_no: str
    title: str
    closed_at: datetime | None
    answered: bool


class SurveyAnswerIn(_In):
    satisfaction: str = Field(max_length=24)
    comment: str | None = Field(default=None, max_length=2000)
