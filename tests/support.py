"""Helpers shared by tests: the hand-built world's shape and small HTTP helpers (importable as `support`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

# A 2 × 2 block of grids (0.01° squares) in one community of one street, south-west corner at 35.00 N 113.00 E.
LAT0, LON0, STEP = 35.0, 113.0, 0.01


def square(col: int, row: int, size: int = 1) -> dict[str, Any]:
    x0, y0 = LON0 + col * STEP, LAT0 + row * STEP
    x1, y1 = x0 + size * STEP, y0 + size * STEP
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def world_geojson() -> dict[str, Any]:
    feats = [
        {"type": "Feature", "geometry": square(0, 0, 2), "properties": {"layer": "street", "code": "410802001",
                                                                        "name": "测试街道"}},
        {"type": "Feature", "geometry": square(0, 0, 2), "properties": {"layer": "community", "code": "410802001001",
                                                                        "name": "测试社区", "parent": "410802001"}},
    ]
    for n, (c, r) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)], start=1):
        feats.append({"type": "Feature", "geometry": square(c, r),
                      "properties": {"layer": "grid", "code": f"4108020010010{n}", "name": f"测试社区0{n}网格",
                                     "parent": "410802001001"}})
    return {"type": "FeatureCollection", "features": feats}


@dataclass
class World:
    """Ids and tokens of the hand-built world; ``h(name)`` gives that user's auth header."""

    users: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)
    grids: dict[str, int] = field(default_factory=dict)
    inside: tuple[float, float] = (LAT0 + 0.005, LON0 + 0.005)  # centre of grid 01
    outside: tuple[float, float] = (LAT0 - 0.5, LON0 - 0.5)

    def h(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


PEOPLE = (
    ("admin", ["admin"], None), ("commander", ["commander"], None), ("shiftlead", ["shift_lead"], None),
    ("intake", ["intake"], None), ("dispatcher", ["dispatcher"], None), ("inspector", ["inspector"], None),
    ("inspector2", ["inspector"], None), ("enf_staff", ["department"], "enforcement"),
    ("officer", ["officer"], "enforcement"), ("officer2", ["officer"], "enforcement"),
    ("san_staff", ["department"], "sanitation"), ("san_officer", ["officer"], "sanitation"),
    ("resident", ["resident"], None), ("resident2", ["resident"], None),
)
PASSWORD = "correct-horse-battery"


# 06010 暴露垃圾 (GB/T 47678.5-2026): its first filing condition is 4 working hours (see catalog.json).
GARBAGE = {"category_code": "06010"}


async def new_case(client: httpx.AsyncClient, w: World, who: str = "inspector", **extra: Any) -> dict[str, Any]:
    lat, lon = w.inside
    body = {"lat": lat, "lon": lon, "description": "路边暴露垃圾", **GARBAGE, **extra}
    r = await client.post("/api/v1/cases", json=body, headers=w.h(who))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def act(client: httpx.AsyncClient, w: World, case_id: int, who: str, action: str,
              expect: int = 200, **params: Any) -> dict[str, Any]:
    r = await client.post(f"/api/v1/cases/{case_id}/actions", json={"action": action, **params}, headers=w.h(who))
    assert r.status_code == expect, f"{who} {action}: {r.status_code} {r.text}"
    return dict(r.json())
