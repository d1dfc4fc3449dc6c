"""Geography over the API: importing the demo district layer by layer, reading layers, locating points; imports
are all or nothing, admin only, and new cases land in the newly imported grids."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cityops.auth import service as auth_service
from cityops.db import writing
from cityops.demo.district import generate_district
from cityops.geo.models import AreaRow, RoadSegment
from cityops.runtime import Runtime

DISTRICT = generate_district()


@pytest.fixture
async def people(rt: Runtime) -> dict[str, dict[str, str]]:
    """An admin, an inspector and a resident on an otherwise empty database (no geography yet)."""
    now = datetime.now(UTC)
    headers: dict[str, dict[str, str]] = {}
    async with rt.sessionmaker() as s, writing(s):
        for name in ("admin", "inspector", "resident"):
            u = await auth_service.create_user(s, username=name, display_name=name, password="correct-horse-1",
                                               roles=[name], now=now)
            token, _ = await auth_service.issue_token(s, user=u, kind="session", now=now, ttl=timedelta(hours=1))
            headers[name] = {"Authorization": f"Bearer {token}"}
    return headers


async def _import(client: httpx.AsyncClient, h: dict[str, str], body: Any, layer: str | None = None,
                  **params: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    query = {**({"layer": layer} if layer else {}), **params}
    return await client.post("/api/v1/geo/import", content=content, params=query,
                             headers={**h, "Content-Type": "application/geo+json"})


async def _import_district(client: httpx.AsyncClient, h: dict[str, str]) -> list[dict[str, int]]:
    out = []
    for layer, fc in DISTRICT.layers():
        r = await _import(client, h, fc, layer.value)
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


async def _row_counts(rt: Runtime) -> tuple[int, int]:
    async with rt.sessionmaker() as s:
        areas = await s.scalar(select(func.count()).select_from(AreaRow))
        roads = await s.scalar(select(func.count()).select_from(RoadSegment))
    return int(areas or 0), int(roads or 0)


def _centre(feature: dict[str, Any]) -> tuple[float, float]:
    """(lat, lon) of the middle of a square grid: the mean of its four corners."""
    corners = feature["geometry"]["coordinates"][0][:4]
    return sum(c[1] for c in corners) / 4, sum(c[0] for c in corners) / 4


async def test_import_demo_district_layer_by_layer(client: httpx.AsyncClient, people: dict[str, dict[str, str]],
                                                   rt: Runtime) -> None:
    # 3 streets, each 2 × 2 communities; 12 × 8 cells; roads every second line: 7 × 4 + 5 × 6 segments.
    assert await _import_district(client, people["admin"]) == [
        {"street": 3}, {"community": 12}, {"grid": 96}, {"road": 58}]
    assert await _row_counts(rt) == (3 + 12 + 96, 58)
    grids = (await client.get("/api/v1/geo/layers/grid")).json()
    assert grids["type"] == "FeatureCollection" and len(grids["features"]) == 96
    roads = (await client.get("/api/v1/geo/layers/road")).json()
    assert len(roads["features"]) == 58
    # A segment spans two grid cells of 150 m.
    assert roads["features"][0]["properties"]["length_m"] == pytest.approx(300, abs=1)
    streets = (await client.get("/api/v1/geo/layers/street")).json()
    assert sorted(f["properties"]["name"] for f in streets["features"]) == ["新华街道", "焦东街道", "焦西街道"]
    assert (await client.get("/api/v1/geo/layers/county")).status_code == 422


async def test_locate_returns_grid_community_and_street(client: httpx.AsyncClient,
                                                        people: dict[str, dict[str, str]]) -> None:
    await _import_district(client, people["admin"])
    grid = DISTRICT.grids["features"][37]
    community_code = grid["properties"]["parent"]
    street_code = next(f["properties"]["parent"] for f in DISTRICT.communities["features"]
                       if f["properties"]["code"] == community_code)
    lat, lon = _centre(grid)
    r = await client.get("/api/v1/geo/locate", params={"lat": lat, "lon": lon})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["grid"]["code"] == grid["properties"]["code"] and body["grid"]["name"] == grid["properties"]["name"]
    assert body["community"]["code"] == community_code
    assert body["street"]["code"] == street_code


async def test_locate_outside_the_district_is_422(client: httpx.AsyncClient,
                                                  people: dict[str, dict[str, str]]) -> None:
    await _import_district(client, people["admin"])
    minx, miny, _, _ = DISTRICT.bounds
    r = await client.get("/api/v1/geo/locate", params={"lat": miny - 0.01, "lon": minx - 0.01})
    assert r.status_code == 422 and r.json()["error"]["field"] == "lat"
    r = await client.get("/api/v1/geo/locate", params={"lat": 95, "lon": minx})
    assert r.status_code == 422 and r.json()["error"]["field"] == "lat"


async def test_malformed_and_invalid_uploads_are_422_and_change_nothing(
        client: httpx.AsyncClient, people: dict[str, dict[str, str]], rt: Runtime) -> None:
    h = people["admin"]
    r = await _import(client, h, b'{"type": "FeatureCollection", "features": [')
    assert r.status_code == 422 and r.json()["error"]["field"] == "$"
    bowtie = {"type": "Polygon", "coordinates": [[[113.0, 35.0], [113.01, 35.01], [113.01, 35.0], [113.0, 35.01],
                                                  [113.0, 35.0]]]}
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[113.0, 35.0], [113.02, 35.0],
                                                                            [113.02, 35.02], [113.0, 35.0]]]},
         "properties": {"layer": "street", "code": "410802901", "name": "好街道"}},
        {"type": "Feature", "geometry": bowtie,
         "properties": {"layer": "street", "code": "410802902", "name": "坏街道"}},
    ]}
    r = await _import(client, h, fc)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "features[1].geometry.coordinates"
    assert "Self-intersection" in r.json()["error"]["message"]
    assert await _row_counts(rt) == (0, 0)  # the good first feature was not kept either


async def test_importing_a_layer_again_is_409(client: httpx.AsyncClient, people: dict[str, dict[str, str]],
                                              rt: Runtime) -> None:
    await _import_district(client, people["admin"])
    before = await _row_counts(rt)
    r = await _import(client, people["admin"], DISTRICT.grids, "grid")
    assert r.status_code == 409 and r.json()["error"]["field"] == "properties.code"
    assert await _row_counts(rt) == before
    # replace updates in place: still 96 grids.
    r = await _import(client, people["admin"], DISTRICT.grids, "grid", replace="true")
    assert r.status_code == 200 and r.json() == {"grid": 96}
    assert await _row_counts(rt) == before


async def test_layer_forced_by_query_must_match_the_features(client: httpx.AsyncClient,
                                                             people: dict[str, dict[str, str]], rt: Runtime) -> None:
    r = await _import(client, people["admin"], DISTRICT.streets, "grid")
    assert r.status_code == 422 and r.json()["error"]["field"] == "features[0].properties.layer"
    # Communities before their streets: the parent is unknown.
    r = await _import(client, people["admin"], DISTRICT.communities, "community")
    assert r.status_code == 422 and r.json()["error"]["field"] == "properties.parent"
    assert await _row_counts(rt) == (0, 0)


@pytest.mark.parametrize("who", ["inspector", "resident"])
async def test_only_admin_imports(client: httpx.AsyncClient, people: dict[str, dict[str, str]], rt: Runtime,
                                  who: str) -> None:
    r = await _import(client, people[who], DISTRICT.streets, "street")
    assert r.status_code == 403
    r = await client.post("/api/v1/geo/import", content=json.dumps(DISTRICT.streets))
    assert r.status_code == 401
    assert await _row_counts(rt) == (0, 0)


async def test_new_case_lands_in_the_newly_imported_grid(client: httpx.AsyncClient,
                                                         people: dict[str, dict[str, str]]) -> None:
    grid = DISTRICT.grids["features"][5]
    lat, lon = _centre(grid)
    # No geography yet: the case is taken, unplaced (and the runtime has cached the empty index).
    r = await client.post("/api/v1/cases", json={"lat": lat, "lon": lon, "description": "井盖缺失"},
                          headers=people["inspector"])
    assert r.status_code == 201, r.text
    assert (r.json()["grid"], r.json()["community"], r.json()["street"]) == (None, None, None)

    await _import_district(client, people["admin"])
    community = next(f for f in DISTRICT.communities["features"]
                     if f["properties"]["code"] == grid["properties"]["parent"])
    street = next(f for f in DISTRICT.streets["features"]
                  if f["properties"]["code"] == community["properties"]["parent"])
    r = await client.post("/api/v1/cases", json={"lat": lat, "lon": lon, "description": "井盖缺失"},
                          headers=people["inspector"])
    assert r.status_code == 201, r.text
    assert r.json()["grid"] == grid["properties"]["name"]
    assert r.json()["community"] == community["properties"]["name"]
    assert r.json()["street"] == street["properties"]["name"]
    # And a point outside the imported district is now refused.
    minx, miny, _, _ = DISTRICT.bounds
    r = await client.post("/api/v1/cases", json={"lat": miny - 0.01, "lon": minx - 0.01, "description": "x"},
                          headers=people["inspector"])
    assert r.status_code == 422 and r.json()["error"]["field"] == "lat"
