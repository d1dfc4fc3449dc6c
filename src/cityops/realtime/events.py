"""Typed, closed event payloads (named ``domain.past_tense``), each with the ids of who may see it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


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


Event = CaseChanged
