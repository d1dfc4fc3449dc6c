"""Request and response bodies of the case API."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

CHANNELS = ("inspector", "public", "hotline", "open311", "video", "console", "referral")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


class CaseCreate(_In):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    description: str = Field(default="", max_length=4000)
    title: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    category_code: str | None = Field(default=None, max_length=16)
    category_kind: Literal["component", "event"] | None = None
    condition_code: str | None = Field(default=None, max_length=16)
    edition: str | None = Field(default=None, max_length=40)
    channel: Literal["inspector", "public", "hotline", "open311", "video", "console", "referral"] | None = None
    reporter_name: str | None = Field(default=None, max_length=100)
    reporter_phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\- ]{3,32}$")
    attachments: list[str] = Field(default_factory=list, max_length=20)

    _lat = field_validator("lat", "lon")(_finite)


class HandlingIn(_In):
    measure: Literal["on_the_spot_fix", "rectification_order", "warning", "fine", "confiscation", "referral", "other"]
    fine_amount: float | None = Field(default=None, ge=0, le=10_000_000)
    party_name: str | None = Field(default=None, max_length=200)
    party_kind: Literal["person", "shop", "company"] | None = None
    party_id_number: str | None = Field(default=None, max_length=64)
    evidence_ids: list[str] = Field(default_factory=list, max_length=50)
    note: str | None = Field(default=None, max_length=2000)


class ActionIn(_In):
    """One transition. Only the parameters the action needs are read; the rest must be absent or null."""

    action: str = Field(max_length=32)
    note: str | None = Field(default=None, max_length=2000)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    attachments: list[str] = Field(default_factory=list, max_length=20)
    # action parameters
    inspector_id: int | None = None
    confirmed: bool | None = None
    category_code: str | None = Field(default=None, max_length=16)
    category_kind: Literal["component", "event"] | None = None
    condition_code: str | None = Field(default=None, max_length=16)
    edition: str | None = Field(default=None, max_length=40)
    department_id: int | None = None
    officer_id: int | None = None
    handling: HandlingIn | None = None
    passed: bool | None = None
    satisfaction: str | None = None
    kind: str | None = None
    reason: str | None = Field(default=None, max_length=2000)
    extra_value: float | None = Field(default=None, gt=0, le=10_000)
    extra_unit: str | None = None
    expected_version: int | None = None


class ClockRead(BaseModel):
    name: str
    started_at: datetime | None
    due_at: datetime | None
    light: str  # green | yellow | red | paused
    remaining_seconds: float | None
    provisional: bool = False


class CaseRead(BaseModel):
    id: int
    case_no: str
    status: str
    channel: str
    title: str
    description: str
    address: str | None
    lat: float
    lon: float
    grid: str | None
    community: str | None
    street: str | None
    category_code: str | None
    category_name: str | None
    category_name_en: str | None = None  # shown by the English UI where the catalog has one
    condition_code: str | None
    department_id: int | None
    officer_id: int | None
    inspector_id: int | None
    reporter_name: str | None
    reporter_phone: str | None
    pending_request: str | None
    rework_count: int
    escalation_level: int
    satisfaction: str | None
    created_at: datetime
    updated_at: datetime
    filed_at: datetime | None
    dispatched_at: datetime | None
    arrived_at: datetime | None
    handled_at: datetime | None
    fed_back_at: datetime | None
    closed_at: datetime | None
    version: int
    follow_code: str | None = None  # only for the reporter: the private link /report#follow=<code>
    case_clock: ClockRead | None
    step_clock: ClockRead | None
    allowed_actions: list[str]


class TimelineEntry(BaseModel):
    id: int
    action: str
    from_status: str | None
    to_status: str
    actor_id: int | None
    actor_name: str | None
    actor_role: str | None
    at: datetime
    lat: float | None
    lon: float | None
    note: str | None
    attachments: list[str]
    data: dict[str, Any]


class CaseDetail(CaseRead):
    timeline: list[TimelineEntry]
    handling: list[dict[str, Any]]
    requests: list[dict[str, Any]]


class CasePage(BaseModel):
    items: list[CaseRead]
    total: int
    page: int
    page_size: int
