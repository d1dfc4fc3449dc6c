"""Helpers of the evaluation tests (import as ``evaluation.ev_support``): Beijing-time moments, a settable clock,
and a builder that puts cases with hand-chosen timestamps straight into the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from cityops.case.models import Case, CaseEvent, CaseRequest
from cityops.db import writing
from cityops.runtime import Runtime
from support import World

CST = timezone(timedelta(hours=8))


def T(month: int, day: int, hh: int = 0, mm: int = 0) -> datetime:  # noqa: N802 - reads like a time literal
    """A 2026 moment in Beijing time (the bureau's zone in the tests)."""
    return datetime(2026, month, day, hh, mm, tzinfo=CST)


@dataclass
class Clock:
    now: datetime = datetime(2026, 11, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Places:
    street: int
    community: int
    grids: dict[str, int]
    categories: dict[str, int]


class Builder:
    """Inserts cases as a finished history: every column given explicitly, plus optional timeline entries."""

    def __init__(self, rt: Runtime, world: World, places: Places) -> None:
        self.rt, self.w, self.p = rt, world, places
        self.n = 0

    async def case(self, *, filed_at: datetime | None, status: str, grid: str = "01", dept: str = "enforcement",
                   officer: str | None = "officer", category: str = "06010", channel: str = "inspector",
                   events: list[tuple[Any, ...]] = (), suspended_once: bool = False,  # type: ignore[assignment]
                   lat: float | None = None, lon: float | None = None, **cols: Any) -> int:
        self.n += 1
        created = cols.pop("created_at", filed_at or T(10, 1))
        lat = lat if lat is not None else 35.005 + (0.01 if grid in ("03", "04") else 0)
        lon = lon if lon is not None else 113.005 + (0.01 if grid in ("02", "04") else 0)
        row = Case(case_no=f"T{self.n:05d}", status=status, channel=channel, title="测试", description="",
                   address=None, lat=lat, lon=lon, grid_id=self.p.grids[grid],
                   community_id=self.p.community, street_id=self.p.street, category_id=self.p.categories[category],
                   reporter_id=self.w.users["inspector"], department_id=self.w.departments[dept] if dept else None,
                   officer_id=self.w.users[officer] if officer else None, created_at=created,
                   updated_at=created, filed_at=filed_at,
                   **{"rework_count": 0, "return_count": 0, "extension_count": 0, "pauses": [], "escalation_level": 0,
                      **cols})
        async with self.rt.sessionmaker() as s, writing(s):
            s.add(row)
            await s.flush()
            for action, at, *attachments in events:
                s.add(CaseEvent(case_id=row.id, action=action, from_status=None, to_status="x", at=at,
                                attachments=list(attachments), data={},
                                actor_id=self.w.users[officer] if officer else None, actor_role="officer"))
            if suspended_once:
                s.add(CaseRequest(case_id=row.id, kind="suspend", reason="挂账",
                                  requested_by=self.w.users["dispatcher"], requested_at=created, decision="approved",
                                  decided_by=self.w.users["shiftlead"], decided_at=created))
        return row.id




async def after_photo(rt: Runtime, case_id: int, user_id: int, at: datetime) -> int:
    """An after-photo (处置后照片) as evidence of the case, straight into the media tables (no upload needed here)."""
    from sqlalchemy import select

    from cityops.media.models import Blob, Evidence

    sha = "ab" * 32
    async with rt.sessionmaker() as s, writing(s):
        if await s.scalar(select(Blob.sha256).where(Blob.sha256 == sha)) is None:
            s.add(Blob(sha256=sha, size=1, mime="image/jpeg", kind="image", meta={}, created_at=at))
            await s.flush()
        ev = Evidence(case_id=case_id, blob_sha256=sha, upload_id="0" * 32, role="after", uploaded_by=user_id,
                      attached_by=user_id, attached_at=at, flags=[], public=False)
        s.add(ev)
        await s.flush()
        return ev.id
