"""Every indicator on a hand-built October 2026, computed by the SQL and checked against numbers worked out by hand.

The fixture (Beijing time; statistics as of 2026-11-05 08:00):

| case | filed  | what happens                                                         | note                       |
|------|--------|----------------------------------------------------------------------|----------------------------|
| c1   | 10-05  | dispatched 09:10, arrived 09:20, handled 09:40, fed back 09:45,      | public, 满意, grid 02       |
|      |        | closed 10:30, due 13:10                                              |                            |
| c2   | 10-06  | dispatched 09:05, arrived 09:30, handled 10:00, fed back 10:40,      | hotline, 不满意, grid 02,    |
|      |        | closed 14:00, due 13:05 (closed late)                                | category 09005             |
| c3   | 10-07  | dispatched 09:00; first round arrive 09:14, feedback 09:40; reworked;| 基本满意 by a survey link,  |
|      |        | second round arrived 11:00, handled 11:20, fed back 11:30;           | officer2                   |
|      |        | closed 12:00, due 17:00                                              |                            |
| c4   | 10-08  | dispatched 09:10, arrived 09:25 (15:00 exactly), handled 09:45,      | open311, extended, rated   |
|      |        | fed back 09:55 (30:00 exactly), closed 11:00, due 17:10              | 满意 by a survey call-back   |
| c5   | 10-09  | voided after dispatch                                                | public                     |
| c6   | 10-10  | suspended (挂账) now                                                   |                            |
| c7   | 10-31  | 15:00 filed, dispatched 15:10, arrived 15:20; due 11-06 (not yet)    | no feedback yet            |
| c8   | 10-20  | dispatched 09:10, due 13:10, never arrived                           | sanitation                 |
| c9   | 10-21  | suspended once, resumed; handled, closed 10-22 10:00, due 12:00      |                            |
| c10  | 09-30  | 23:00 — September (out)                                              |                            |
| c11  | 11-01  | 00:30 — November (out)                                               |                            |
| c12  | 10-25  | filed, not dispatched yet (no deadline)                              |                            |
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cityops.db import writing
from cityops.evaluation import service
from cityops.evaluation.indicators import Scope
from cityops.evaluation.models import SurveyResponse
from cityops.evaluation.periods import parse_month
from cityops.runtime import Runtime
from evaluation.ev_support import Builder, Places, T
from support import World

NOW = datetime(2026, 11, 5, tzinfo=UTC)
OCT = parse_month("2026-10", ZoneInfo("Asia/Shanghai"))


@pytest.fixture
async def october(rt: Runtime, builder: Builder) -> dict[str, int]:
    b = builder
    ids = {
        "c1": await b.case(filed_at=T(10, 5, 9), status="evaluated", grid="02", channel="public",
                           dispatched_at=T(10, 5, 9, 10), arrived_at=T(10, 5, 9, 20), handled_at=T(10, 5, 9, 40),
                           fed_back_at=T(10, 5, 9, 45), closed_at=T(10, 5, 10, 30), due_at=T(10, 5, 13, 10),
                           satisfaction="satisfied"),
        "c2": await b.case(filed_at=T(10, 6, 9), status="evaluated", grid="02", channel="hotline", category="09005",
                           dispatched_at=T(10, 6, 9, 5), arrived_at=T(10, 6, 9, 30), handled_at=T(10, 6, 10),
                           fed_back_at=T(10, 6, 10, 40), closed_at=T(10, 6, 14), due_at=T(10, 6, 13, 5),
                           satisfaction="dissatisfied"),
        "c3": await b.case(filed_at=T(10, 7, 9), status="evaluated", officer="officer2", rework_count=1,
                           dispatched_at=T(10, 7, 9), arrived_at=T(10, 7, 11), handled_at=T(10, 7, 11, 20),
                           fed_back_at=T(10, 7, 11, 30), closed_at=T(10, 7, 12), due_at=T(10, 7, 17),
                           events=[("arrive", T(10, 7, 9, 14)), ("feed_back", T(10, 7, 9, 40)),
                                   ("arrive", T(10, 7, 11)), ("feed_back", T(10, 7, 11, 30))]),
        "c4": await b.case(filed_at=T(10, 8, 9), status="closed", channel="open311", extension_count=1,
                           dispatched_at=T(10, 8, 9, 10), arrived_at=T(10, 8, 9, 25), handled_at=T(10, 8, 9, 45),
                           fed_back_at=T(10, 8, 9, 55), closed_at=T(10, 8, 11), due_at=T(10, 8, 17, 10)),
        "c5": await b.case(filed_at=T(10, 9, 9), status="voided", channel="public", dispatched_at=T(10, 9, 9, 10),
                           due_at=T(10, 9, 13, 10)),
        "c6": await b.case(filed_at=T(10, 10, 9), status="suspended", dispatched_at=T(10, 10, 9, 10),
                           due_at=T(10, 10, 13, 10), suspended_once=True),
        "c7": await b.case(filed_at=T(10, 31, 15), status="on_scene", dispatched_at=T(10, 31, 15, 10),
                           arrived_at=T(10, 31, 15, 20), due_at=T(11, 6, 12)),
        "c8": await b.case(filed_at=T(10, 20, 9), status="dispatched", dept="sanitation", officer="san_officer",
                           dispatched_at=T(10, 20, 9, 10), due_at=T(10, 20, 13, 10)),
        "c9": await b.case(filed_at=T(10, 21, 9), status="closed", suspended_once=True,
                           dispatched_at=T(10, 21, 9, 5), arrived_at=T(10, 21, 9, 10), handled_at=T(10, 21, 9, 30),
                           fed_back_at=T(10, 21, 9, 40), closed_at=T(10, 22, 10), due_at=T(10, 22, 12)),
        "c10": await b.case(filed_at=T(9, 30, 23), status="filed"),
        "c11": await b.case(filed_at=T(11, 1, 0, 30), status="filed"),
        "c12": await b.case(filed_at=T(10, 25, 9), status="filed", dept=None, officer=None),
    }
    async with rt.sessionmaker() as s, writing(s):
        s.add(SurveyResponse(case_id=ids["c4"], channel="callback", satisfaction="satisfied", responded_at=T(11, 2)))
        s.add(SurveyResponse(case_id=ids["c3"], channel="portal", satisfaction="basically_satisfied",
                             responded_at=T(11, 2)))
        # A survey answer never overrides the case's own rating: c2 stays 不满意.
        s.add(SurveyResponse(case_id=ids["c2"], channel="callback", satisfaction="satisfied", responded_at=T(11, 2)))
    return ids


async def _table(rt: Runtime, scope: Scope | None = None, by: str | None = None) -> service.Table:
    async with rt.sessionmaker() as s:
        return await service.indicator_table(rt, s, period=OCT, now=NOW, scope=scope, by=by)


async def test_every_indicator_of_the_district(rt: Runtime, october: dict[str, int]) -> None:
    t = await _table(rt)
    c, v = t.total.counts, t.total.values
    # 立案数: c1–c9 and c12 (c10 is September, c11 November).
    assert c.filed == 10
    # 应结案数 = 10 − voided c5 − suspended c6 − not yet due c7 = 7: c1 c2 c3 c4 c8 c9 c12.
    assert (c.voided, c.suspended, c.pending, c.due) == (1, 1, 1, 7)
    assert v["closed"] == 5  # c1 c2 c3 c4 c9
    assert v["closing_rate"] == pytest.approx(5 / 7)
    assert v["on_time_closing_rate"] == pytest.approx(4 / 7)  # c2 closed at 14:00 after its 13:05 deadline
    assert v["handling_rate"] == pytest.approx(5 / 7)
    assert v["on_time_handling_rate"] == pytest.approx(5 / 7)  # c2 was handled at 10:00, in time
    assert v["rework_rate"] == pytest.approx(1 / 5)  # c3 of the five handled
    assert v["extension_rate"] == pytest.approx(1 / 7)  # c4
    assert v["overdue_rate"] == pytest.approx(2 / 7)  # c2 closed late, c8 open past its deadline; c12 has none
    # Arrival: dispatched, never suspended (not c5 c6 c9), not undispatched c12: c1 c2 c3 c4 c7 c8.
    # On time (≤ 15 min): c1 10 min, c3 14 min (first round, from the timeline), c4 15:00, c7 10 min.
    assert (c.arrive_due, c.arrive_on_time) == (6, 4)
    assert v["on_time_arrival_rate"] == pytest.approx(4 / 6)
    # Feedback (≤ 30 min after first arrival): c1 25, c3 26, c4 30:00 on time; c2 70 late; c7 none after days.
    assert (c.feedback_due, c.feedback_on_time) == (5, 3)
    # Enforcement time (dispatch → handled): c1 30, c2 55, c3 140, c4 35 minutes; c9 was suspended once.
    assert v["avg_enforcement_minutes"] == pytest.approx(260 / 4)
    assert v["p90_enforcement_minutes"] == pytest.approx(140)  # nearest rank ⌈0.9 × 4⌉ = 4th of 30 35 55 140
    # Satisfaction: c1 满意, c2 不满意, c3 基本满意 (survey link), c4 满意 (call-back) → 3 of 4.
    assert (c.rated, c.satisfied) == (4, 3)
    assert v["satisfaction_rate"] == pytest.approx(3 / 4)
    # 监督举报率: public c1, hotline c2, Open311 c4 of the 9 valid filed cases (voided c5 was public too).
    assert v["public_report_rate"] == pytest.approx(3 / 9)


async def test_scopes_narrow_the_cohort(rt: Runtime, october: dict[str, int], world: World,
                                        places: Places) -> None:
    g2 = (await _table(rt, Scope("grid", places.grids["02"]))).total
    assert (g2.counts.filed, g2.counts.due, g2.values["closing_rate"], g2.values["on_time_closing_rate"]) == (
        2, 2, 1.0, 0.5)
    san = (await _table(rt, Scope("department", world.departments["sanitation"]))).total
    assert (san.counts.filed, san.values["closing_rate"], san.values["overdue_rate"]) == (1, 0.0, 1.0)
    o2 = (await _table(rt, Scope("officer", world.users["officer2"]))).total
    assert (o2.counts.filed, o2.values["rework_rate"], o2.values["on_time_arrival_rate"]) == (1, 1.0, 1.0)
    # A class (大类 06 市容环境类) takes in its subclasses: every case but c2 (09005) is 06010.
    from sqlalchemy import select

    from cityops.catalog.models import Category

    async with rt.sessionmaker() as s:
        cls06 = await s.scalar(select(Category.id).where(Category.edition == "GB/T 47678.5-2026",
                                                         Category.kind == "event", Category.code == "06"))
    assert (await _table(rt, Scope("category", cls06))).total.counts.filed == 9


async def test_breakdowns_by_week_and_department(rt: Runtime, october: dict[str, int], world: World) -> None:
    weeks = {g.label: g.counts.filed for g in (await _table(rt, by="week")).groups}
    # October 2026 starts on a Thursday; weeks run Monday to Sunday, clipped to the month.
    assert weeks == {"10-05~10-11": 6, "10-19~10-25": 3, "10-26~10-31": 1}
    depts = {g.key: (g.counts.filed, g.values["closing_rate"]) for g in (await _table(rt, by="department")).groups}
    assert depts[world.departments["sanitation"]] == (1, 0.0)
    assert depts[world.departments["enforcement"]][0] == 8
    assert depts[None] == (1, 0.0)  # c12, not dispatched yet
    p90 = {g.key: g.values["p90_enforcement_minutes"] for g in (await _table(rt, by="officer")).groups}
    assert p90[world.users["officer"]] == pytest.approx(55)  # ⌈0.9 × 3⌉ = 3rd of 30 35 55
    assert p90[world.users["officer2"]] == pytest.approx(140)


async def test_an_empty_period_has_no_rates(rt: Runtime, october: dict[str, int]) -> None:
    async with rt.sessionmaker() as s:
        t = await service.indicator_table(rt, s, period=parse_month("2025-01", ZoneInfo("Asia/Shanghai")), now=NOW)
    assert t.total.counts.filed == 0
    assert t.total.values["closing_rate"] is None and t.total.values["avg_enforcement_minutes"] is None
