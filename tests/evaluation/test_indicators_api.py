"""The indicators API: any period and scope, breakdowns, department staff limited to their own department, and
bad input refused by name (never a 500)."""

from __future__ import annotations

import httpx
import pytest

from cityops.evaluation.formulas import INDICATORS
from evaluation.ev_support import Builder, Clock, Places, T
from support import World


@pytest.fixture
async def cases(builder: Builder, clock: Clock) -> None:
    for day, dept in ((3, "enforcement"), (4, "enforcement"), (5, "sanitation")):
        await builder.case(filed_at=T(10, day, 9), status="closed", dept=dept,
                           officer="officer" if dept == "enforcement" else "san_officer",
                           dispatched_at=T(10, day, 9, 5), arrived_at=T(10, day, 9, 15), handled_at=T(10, day, 9, 30),
                           fed_back_at=T(10, day, 9, 40), closed_at=T(10, day, 10), due_at=T(10, day, 13))
    clock.now = T(11, 5)


async def test_a_date_range_and_a_breakdown(ev_client: httpx.AsyncClient, world: World, cases: None) -> None:
    r = await ev_client.get("/api/v1/evaluation/indicators", params={"from": "2026-10-04", "to": "2026-10-05",
                                                                     "by": "day"}, headers=world.h("commander"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period"]["label"] == "2026-10-04~2026-10-05"
    assert body["total"]["values"]["filed"] == 2 and body["total"]["values"]["closing_rate"] == 1.0
    assert [(g["label"], g["values"]["filed"]) for g in body["groups"]] == [("2026-10-04", 1), ("2026-10-05", 1)]


async def test_department_staff_see_their_own_department(ev_client: httpx.AsyncClient, world: World,
                                                         cases: None) -> None:
    own = {"month": "2026-10", "scope": "department", "scope_id": world.departments["sanitation"]}
    r = await ev_client.get("/api/v1/evaluation/indicators", params=own, headers=world.h("san_staff"))
    assert r.status_code == 200 and r.json()["total"]["values"]["filed"] == 1
    other = {**own, "scope_id": world.departments["enforcement"]}
    assert (await ev_client.get("/api/v1/evaluation/indicators", params=other,
                                headers=world.h("san_staff"))).status_code == 403
    assert (await ev_client.get("/api/v1/evaluation/indicators", params={"month": "2026-10"},
                                headers=world.h("san_staff"))).status_code == 403
    assert (await ev_client.get("/api/v1/evaluation/indicators", params={"month": "2026-10"},
                                headers=world.h("resident"))).status_code == 403
    assert (await ev_client.get("/api/v1/evaluation/indicators", params={"month": "2026-10"})).status_code == 401


@pytest.mark.parametrize("params, status, field", [
    ({"month": "2026-10", "scope": "planet", "scope_id": "1"}, 422, "scope"),
    ({"month": "2026-10", "scope": "grid"}, 422, "scope_id"),
    ({"month": "2026-10", "scope_id": "1"}, 422, "scope_id"),
    ({"month": "2026-10", "scope": "grid", "scope_id": "999999"}, 404, "scope_id"),
    ({"month": "2026-10", "scope": "street", "scope_id": "GRID"}, 422, "scope_id"),
    ({"month": "2026-10", "by": "moon"}, 422, "by"),
    ({"month": "2026-10", "from": "2026-10-01", "to": "2026-10-02"}, 422, "month"),
    ({"from": "2016-01-01", "to": "2026-10-02"}, 422, "to"),
])
async def test_bad_input_is_refused_by_name(ev_client: httpx.AsyncClient, world: World, params: dict[str, str],
                                            status: int, field: str) -> None:
    r = await ev_client.get("/api/v1/evaluation/indicators", params=params, headers=world.h("commander"))
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field


async def test_a_grid_scope_must_name_a_grid(ev_client: httpx.AsyncClient, world: World, places: Places,
                                             cases: None) -> None:
    r = await ev_client.get("/api/v1/evaluation/indicators", params={"month": "2026-10", "scope": "grid",
                                                                     "scope_id": places.street},
                            headers=world.h("commander"))
    assert r.status_code == 404  # that id is the street
    r = await ev_client.get("/api/v1/evaluation/indicators", params={"month": "2026-10", "scope": "street",
                                                                     "scope_id": places.street},
                            headers=world.h("commander"))
    assert r.json()["total"]["values"]["filed"] == 3


async def test_definitions_list_every_indicator(ev_client: httpx.AsyncClient, world: World) -> None:
    r = await ev_client.get("/api/v1/evaluation/indicators/definitions", headers=world.h("shiftlead"))
    assert [d["key"] for d in r.json()] == [i.key for i in INDICATORS]
    assert {d["zh"] for d in r.json()} >= {"结案率", "按期结案率", "处置率", "按期处置率", "返工率", "延期率", "超期率",
                                            "群众满意率", "监督举报率"}
