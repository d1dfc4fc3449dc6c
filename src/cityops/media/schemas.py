"""Request and response bodies of the evidence API (tus itself speaks headers, see tus.py)."""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cityops.media.rules import EvidenceRole


class UploadRead(BaseModel):
    id: str
    status: str  # open | complete | failed | expired | terminated
    length: int
    offset: int
    filename: str | None
    mime: str | None
    kind: str | None
    sha256: str | None
    error: str | None
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None


class EvidenceAttach(BaseModel):
    """Attach a finished upload to a case. Device time and place are what the phone says about the recording."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    upload_id: str = Field(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")
    role: EvidenceRole
    device_time: datetime | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("lat", "lon")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("device_time")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-11-30T09:15:00+08:00")
        return v


class EvidenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public: bool


class DerivativeRead(BaseModel):
    kind: str
    url: str
    sha256: str
    mime: str
    width: int
    height: int


class EvidenceRead(BaseModel):
    id: int
    case_id: int
    role: str
    kind: str
    mime: str
    size: int
    sha256: str
    filename: str | None
    width: int | None
    height: int | None
    duration_seconds: float | None
    public: bool
    attached_at: datetime | None
    attached_by: int | None
    uploaded_by: int | None
    device_time: datetime | None
    device_lat: float | None
    device_lon: float | None
    captured_at: datetime | None  # from EXIF / container tags
    captured_lat: float | None
    captured_lon: float | None
    flags: list[str]
    note: str | None
    url: str | None  # the original; null for someone who may only see previews
    derivatives: list[DerivativeRead]


class EvidencePage(BaseModel):
    items: list[EvidenceRead]


class CustodyEntry(BaseModel):
    seq: int
    at: datetime
    actor_id: int | None
    action: str
    entity_type: str
    entity_id: str
    data: str  # canonical JSON exactly as hashed
    hash: str


class Custody(BaseModel):
    """Chain of custody of one piece of evidence: the audit entries of its upload and of itself, in order."""

    evidence_id: int
    sha256: str
    entries: list[CustodyEntry]
