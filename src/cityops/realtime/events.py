"""Typed, closed event payloads (named ``domain.past_tense``), each with the ids of who may see it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Audience(BaseModel):
    """Who may receive the event: staff roles see everything; others only when named here."""

    model_config = ConfigDict(extra="forbid")
    user_ids: list[int] = []
    department_ids: list[int] = []


class CaseChanged(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["case.created", "case.transitioned", "case.escalated"]
    case_id: int
    case_no: str
    action: str
    status: str
    at: datetime
    department_id: int | None
    officer_id: int | None
    audience: Audience


class PositionUpdated(BaseModel):
    """The latest accepted fix of a device (conflated: at most one per device per history flush)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["position.updated"] = "position.updated"
    device_id: int
    officer_id: int | None
    lat: float
    lon: float
    at: datetime
    speed_mps: float | None
    bearing: float | None
    accuracy_m: float | None
    battery: float | None
    audience: Audience


class OfficerStatusChanged(BaseModel):
    """An officer's CAD status changed (off duty / available / assigned / en route / on scene / busy)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["officer.status_changed"] = "officer.status_changed"
    officer_id: int
    status: str
    previous: str | None
    duty: str
    case_id: int | None
    department_id: int | None
    at: datetime
    audience: Audience


class EvidenceAttached(BaseModel):
    """A file was attached to a case: consoles showing the case refresh its timeline and gallery."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["evidence.attached"] = "evidence.attached"
    case_id: int
    case_no: str
    evidence_id: int
    role: str
    kind: str
    flags: list[str]
    at: datetime
    audience: Audience


# Discriminated by `type`: events arriving from other processes over Redis are parsed back into these models.
Event = Annotated[CaseChanged | PositionUpdated | OfficerStatusChanged | EvidenceAttached, Field(discriminator="type")]
