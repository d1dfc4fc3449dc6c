"""Request and response bodies of the tracking API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cityops.tracking.models import DeviceKind, TravelMode
from cityops.tracking.status import Duty


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DeviceCreate(_In):
    identifier: str = Field(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$", description="what the device sends as id/device_id")
    kind: DeviceKind = DeviceKind.PHONE
    name: str = Field(min_length=1, max_length=100)
    officer_id: int | None = None
    mode: TravelMode | None = Field(default=None, description="default: car for a vehicle, else walk")
    require_token: bool = False


class DeviceUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    officer_id: int | None = None  # send null to unbind
    mode: TravelMode | None = None
    require_token: bool | None = None
    is_active: bool | None = None


class PositionRead(BaseModel):
    device_id: int
    officer_id: int | None
    lat: float
    lon: float
    at: datetime
    speed_mps: float | None
    bearing: float | None
    accuracy_m: float | None
    battery: float | None
    charging: bool | None
    alarm: str | None
    age_s: float
    connectivity: str


class DeviceRead(BaseModel):
    id: int
    identifier: str
    kind: str
    name: str
    officer_id: int | None
    mode: str
    require_token: bool
    is_active: bool
    created_at: datetime
    connectivity: str
    position: PositionRead | None


class DutyIn(_In):
    """``{"duty": "on_duty" | "off_duty" | "busy"}``, or the field app's toggle ``{"on_duty": true | false}``."""

    duty: Duty | None = None
    on_duty: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> DutyIn:
        if (self.duty is None) == (self.on_duty is None):
            raise ValueError("send either duty or on_duty")
        if self.duty is None:
            self.duty = Duty.ON_DUTY if self.on_duty else Duty.OFF_DUTY
        return self


class OfficerRead(BaseModel):
    id: int
    username: str
    display_name: str
    department_id: int | None
    duty: str
    status: str
    case_id: int | None
    status_changed_at: datetime | None
    connectivity: str
    position: PositionRead | None
    device_ids: list[int]


class RecommendationRead(BaseModel):
    officer_id: int
    display_name: str
    department_id: int | None
    distance_m: float
    travel_m: float
    eta_s: float
    eta_minutes: float
    makes_deadline: bool
    stale: bool
    mode: str
    fix_age_s: float


class RecommendationsRead(BaseModel):
    case_id: int
    case_no: str
    department_ids: list[int] | None
    deadline_s: float
    method: Literal["straight_line", "road_network"]
    officers: list[RecommendationRead]
    excluded: dict[str, int]


class DispatchIn(_In):
    officer_id: int
    note: str | None = Field(default=None, max_length=2000)
    expected_version: int | None = None


class RuleIn(_In):
    category_code: str = Field(max_length=16)
    category_kind: Literal["component", "event"] | None = None
    edition: str | None = Field(default=None, max_length=40)
    enabled: bool = True
    require_deadline: bool = True


class RuleRead(BaseModel):
    id: int
    category_id: int
    category_code: str
    category_name: str
    enabled: bool
    require_deadline: bool
    created_by: int
    updated_at: datetime


class PatrolIn(_In):
    officer_id: int
    starts_at: datetime
    ends_at: datetime
    grid_ids: list[int] = Field(default_factory=list, max_length=500)
    segment_ids: list[int] = Field(default_factory=list, max_length=2000)
    note: str | None = Field(default=None, max_length=2000)


class PatrolRead(BaseModel):
    id: int
    officer_id: int
    starts_at: datetime
    ends_at: datetime
    grid_ids: list[int]
    segment_ids: list[int]
    note: str | None
    created_by: int | None
    created_at: datetime


class SegmentCoverage(BaseModel):
    segment_id: int
    code: str
    name: str
    share: float
    traversed: bool


class CoverageRead(BaseModel):
    assignment_id: int
    officer_id: int
    fixes: int
    segments: list[SegmentCoverage]
    traversed: int
    assigned: int
    coverage: float
