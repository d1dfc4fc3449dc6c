"""The report intake: reports arriving together share one transaction, a report and its related rows are stored
whole or not at all, and one bad report in a batch fails alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from cityops.audit import service as audit_service
from cityops.audit.models import AuditEntry
from cityops.auth.service import principal_for
from cityops.case import service as case_service
from cityops.case.intake import Related
from cityops.case.models import Case, CaseEvent
from cityops.case.schemas import CaseCreate
from cityops.open311.models import Submission
from cityops.runtime import Runtime
from support import World

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _data(w: World, text: str) -> CaseCreate:
    lat, lon = w.inside
    return CaseCreate(lat=lat, lon=lon, description=text, category_code="06010")


def _extras(api_key_id: int) -> Related:
    row = {"api_key_id": api_key_id, "attributes": {"quantity": 3}, "email": "a@example.org", "device_id": None,
           "account_id": None, "address_id": None, "created_at": NOW}
    return Related(Submission.__table__, row, "open311.submission", {"api_key_id": api_key_id})


async def _stored(rt: Runtime) -> tuple[int, int, int, int]:
    async with rt.sessionmaker() as s:
        return tuple([int(await s.scalar(select(func.count()).select_from(t)) or 0)  # type: ignore[return-value]
                      for t in (Case, CaseEvent, Submission, AuditEntry)])


async def test_a_report_and_its_related_rows_are_stored_whole_or_not_at_all(rt: Runtime, world: World) -> None:
    w = world
    async with rt.sessionmaker() as s:
        caller = await principal_for(s, w.tokens["inspector"], NOW)
    before = await _stored(rt)
    # The related row names an API key that does not exist: its foreign key fails, so the case must not stand.
    with pytest.raises(Exception, match="(?i)foreign key"):
        await case_service.create(rt, None, data=_data(w, "坏的附加行"), caller=caller, now=NOW,
                                  related=[_extras(api_key_id=999_999)])
    assert await _stored(rt) == before


async def test_one_bad_report_in_a_batch_fails_alone(rt: Runtime, world: World,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    w = world
    async with rt.sessionmaker() as s:
        caller = await principal_for(s, w.tokens["inspector"], NOW)
    cases, events, subs, audit = await _stored(rt)

    async def report(i: int) -> str:
        related = [_extras(api_key_id=999_999)] if i == 3 else []
        case, _ = await case_service.create(rt, None, data=_data(w, f"第{i}处"), caller=caller, now=NOW,
                                            related=related)
        return case.case_no

    for load in (rt.catalog, rt.area_index, rt.calendar):  # warm caches: preparing a report then never waits,
        await load()                                      # so all six are queued before the writer runs
    # Submitted together, so the intake writes them as one batch; the batch fails on report 3 and is written
    # again report by report.
    results = await asyncio.gather(*(report(i) for i in range(6)), return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    numbers = sorted(r for r in results if isinstance(r, str))
    assert len(failed) == 1 and "foreign key" in str(failed[0]).lower()
    assert isinstance(results[3], BaseException)
    # The failed attempts took no numbers: the day's counter moved only with what was committed.
    assert numbers == [f"20261130{n:05d}" for n in range(1, 6)]
    assert "a batch of 6 failed; writing them one by one" in caplog.text
    assert await _stored(rt) == (cases + 5, events + 5, subs, audit + 5)
    async with rt.sessionmaker() as s:
        assert (await audit_service.verify(s)).ok
