"""What a supervision flag (全过程监督) is, and what the rules share: the period, the thresholds, a distance."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.evaluation.config import EvaluationConfig
from cityops.evaluation.periods import Period
from cityops.geo.index import METRES_PER_DEGREE, haversine_m


@dataclass(frozen=True)
class FlagCase:
    """One case behind a flag, with what about it raised the flag."""

    case_id: int
    case_no: str
    at: datetime | None
    why: str


@dataclass(frozen=True)
class Flag:
    rule: str
    subject_kind: str  # officer | street | grid | community | party | place | case
    subject_id: str  # stable within the rule: with rule and period it keys a review
    summary: str
    cases: tuple[FlagCase, ...]
    metrics: dict[str, Any] = field(default_factory=dict)
    summary_zh: str = ""
    subject: str = ""  # display name, filled in by the service

    @property
    def subject_key(self) -> str:
        return f"{self.subject_kind}:{self.subject_id}"

    @property
    def case_ids(self) -> tuple[int, ...]:
        return tuple(c.case_id for c in self.cases)


@dataclass(frozen=True)
class Context:
    period: Period
    now: datetime
    cfg: EvaluationConfig
    arrive_seconds: float


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return haversine_m(lat1, lon1, lat2, lon2)


def degrees_for(metres: float, lat: float) -> tuple[float, float]:
    """(Δlat, Δlon) that span ``metres`` at latitude ``lat``: the half-sides of a search box."""
    return metres / METRES_PER_DEGREE, metres / (METRES_PER_DEGREE * max(0.01, math.cos(math.radians(lat))))


def by_subject(rows: Iterable[tuple[str, FlagCase]]) -> dict[str, list[FlagCase]]:
    out: dict[str, list[FlagCase]] = {}
    for key, fc in rows:
        out.setdefault(key, []).append(fc)
    return out


_TABLES: dict[tuple[str, str], bool] = {}


async def has_table(session: AsyncSession, name: str) -> bool:
    """Whether the database has a table (e.g. the evidence table of the media package), remembered per database."""
    key = (str(session.get_bind().engine.url), name)
    if key not in _TABLES:
        conn = await session.connection()
        _TABLES[key] = await conn.run_sync(lambda c: inspect(c).has_table(name))
    return _TABLES[key]
