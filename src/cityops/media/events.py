"""Typed, closed events of the evidence domain (published after commit through ``Bus.send_event``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from cityops.realtime.events import Audience


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
