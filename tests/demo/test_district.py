"""The synthetic Jiaozuo demo district: counts, hierarchy, topology and round-tripping."""

from __future__ import annotations

import json
import random
import re

import pytest
import shapely  # type: ignore[import-untyped]

from cityops.demo.district import DemoDistrict, generate_district, random_point_in
from cityops.geo.geojson import GeoFeature, Layer, order_for_import, parse_features
from cityops.geo.index import Area, AreaIndex, haversine_m

Parsed = dict[Layer, list[GeoFeature]]


@pytest.fixture(scope="module")
def district() -> DemoDistrict:
    return generate_district()


@pytest.fixture(scope="module")
def parsed(district: DemoDistrict) -> Parsed:
    return {layer: parse_features(json.dumps(fc, ensure_ascii=False)) for layer, fc in district.layers()}


def build_index(parsed: Parsed) -> AreaIndex:
    ids: dict[str, int] = {}
    areas: list[Area] = []
    for feature in order_for_import([f for fs in parsed.values() for f in fs]):
        if feature.layer is Layer.ROAD:
            continue
        ids[feature.code] = len(ids) + 1
        parent_id = ids[feature.parent_code] if feature.parent_code else None
        areas.append(
            Area(ids[feature.code], feature.layer, feature.code, feature.name, feature.geometry, parent_id)
        )
    return AreaIndex(areas)


def test_exact_counts(parsed: Parsed) -> None:
    assert len(parsed[Layer.STREET]) == 3
    assert len(parsed[Layer.COMMUNITY]) == 12
    assert len(parsed[Layer.GRID]) == 96
    # 7 north–south roads × 4 segments + 5 east–west roads × 6 segments.
    assert len(parsed[Layer.ROAD]) == 7 * 4 + 5 * 6
    assert all(f.layer is layer for layer, fs in parsed.items() for f in fs)


def test_codes_follow_the_national_pattern(parsed: Parsed) -> None:
    assert [f.code for f in parsed[Layer.STREET]] == ["410802001", "410802002", "410802003"]
    assert all(re.fullmatch(r"410802\d{6}", f.code) for f in parsed[Layer.COMMUNITY])
    assert all(re.fullmatch(r"410802\d{6}0[1-8]", f.code) for f in parsed[Layer.GRID])
    assert all(re.fullmatch(r"R\d{4}", f.code) for f in parsed[Layer.ROAD])
    assert len({f.name for f in parsed[Layer.COMMUNITY]}) == 12
    first = parsed[Layer.GRID][0]
    assert first.code == "41080200100101"
    assert first.name == "建设社区01网格"


def test_hierarchy_grid_community_street(parsed: Parsed) -> None:
    streets = {f.code: f for f in parsed[Layer.STREET]}
    communities = {f.code: f for f in parsed[Layer.COMMUNITY]}
    for grid in parsed[Layer.GRID]:
        community = communities[grid.parent_code or ""]
        assert grid.code.startswith(community.code)
        assert community.geometry.covers(grid.geometry)
        street = streets[community.parent_code or ""]
        assert street.geometry.covers(community.geometry)
    per_community = [sum(g.parent_code == c for g in parsed[Layer.GRID]) for c in communities]
    assert per_community == [8] * 12


def test_areas_tile_without_overlap(district: DemoDistrict, parsed: Parsed) -> None:
    minx, miny, maxx, maxy = district.bounds
    rect = (maxx - minx) * (maxy - miny)
    for layer in (Layer.STREET, Layer.COMMUNITY, Layer.GRID):
        geoms = [f.geometry for f in parsed[layer]]
        union = shapely.union_all(geoms)
        assert sum(g.area for g in geoms) == pytest.approx(union.area, rel=1e-9)
        assert union.area == pytest.approx(rect, rel=1e-9)
    # Grid cells are 150 m squares, up to the 7-decimal rounding (~1 cm).
    x0, y0, x1, y1 = parsed[Layer.GRID][0].geometry.bounds
    assert haversine_m(y0, x0, y0, x1) == pytest.approx(150.0, abs=0.02)
    assert haversine_m(y0, x0, y1, x0) == pytest.approx(150.0, abs=0.02)


def test_road_segments_lie_on_grid_lines(parsed: Parsed) -> None:
    boundaries = shapely.union_all([f.geometry.boundary for f in parsed[Layer.GRID]])
    xs = {round(x, 7) for f in parsed[Layer.GRID] for x, _ in f.geometry.exterior.coords}
    ys = {round(y, 7) for f in parsed[Layer.GRID] for _, y in f.geometry.exterior.coords}
    for road in parsed[Layer.ROAD]:
        coords = list(road.geometry.coords)
        for x, y in (coords[0], coords[-1]):
            assert x in xs and y in ys  # endpoints are grid vertices
        assert boundaries.buffer(1e-9).covers(road.geometry)
        assert re.fullmatch(r"(.+?)\((.+)—(.+)\)", road.name)
        assert road.name.startswith(road.properties["road"] + "(")
    names = {f.properties["road"] for f in parsed[Layer.ROAD]}
    assert len(names) == 12
    assert parsed[Layer.ROAD][0].name == "龙源路(丰收路—人民路)"


def test_roads_on_street_seams_have_no_street(parsed: Parsed) -> None:
    seam = [f for f in parsed[Layer.ROAD] if "street" not in f.properties]
    assert {f.properties["road"] for f in seam} == {"和平街", "新华街"}
    assert all(f.parent_code is None for f in seam)


def test_coordinates_are_rounded_and_output_is_deterministic(district: DemoDistrict) -> None:
    text = json.dumps([fc for _, fc in district.layers()], ensure_ascii=False)
    assert not re.search(r"\d\.\d{8,}", text)
    again = generate_district()
    assert json.dumps([fc for _, fc in again.layers()], ensure_ascii=False) == text


def test_centre_is_centred_and_located(district: DemoDistrict, parsed: Parsed) -> None:
    minx, miny, maxx, maxy = district.bounds
    assert (minx + maxx) / 2 == pytest.approx(113.24, abs=1e-7)
    assert (miny + maxy) / 2 == pytest.approx(35.23, abs=1e-7)
    index = build_index(parsed)
    assert len(index) == 3 + 12 + 96
    placement = index.locate(35.2301, 113.2401)
    assert placement is not None
    assert placement.grid is not None and placement.community is not None and placement.street is not None
    assert placement.grid.code.startswith(placement.community.code)
    assert placement.street.code == "410802002"


def test_random_points_land_in_grids(district: DemoDistrict, parsed: Parsed) -> None:
    index = build_index(parsed)
    rng = random.Random(7)
    for _ in range(50):
        lat, lon = random_point_in(district.bounds, rng)
        placement = index.locate(lat, lon)
        assert placement is not None and placement.grid is not None


def test_address_for_nearest_intersection(district: DemoDistrict) -> None:
    node = next(n for n in district.intersections if (n.ew_road, n.ns_road) == ("解放路", "民主路"))
    assert (node.lat, node.lon) == (35.23, 113.24)
    assert district.address_for(node.lat, node.lon) == "解放路与民主路交叉口"
    # 0.00045° latitude ≈ 50 m due north; longitude shift ≈ 50 m east at this latitude.
    assert district.address_for(35.23045, 113.24) == "解放路与民主路交叉口北50米"
    assert district.address_for(35.23, 113.24055) == "解放路与民主路交叉口东50米"
    assert district.address_for(35.2296, 113.2395) == "解放路与民主路交叉口西南60米"


def test_invalid_layout_arguments() -> None:
    with pytest.raises(ValueError):
        generate_district(cols=10)
    with pytest.raises(ValueError):
        generate_district(rows=7)
    bigger = generate_district(cols=18, rows=10)
    assert len(bigger.grids["features"]) == 180
    assert any(f["properties"]["road"] == "经10路" for f in bigger.roads["features"])
