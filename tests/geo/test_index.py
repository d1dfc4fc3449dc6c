"""Point placement and nearest-road lookups on hand-built geometries."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import LineString, Point, box  # type: ignore[import-untyped]

from cityops.geo.geojson import Layer
from cityops.geo.index import METRES_PER_DEGREE, Area, AreaIndex, Road, RoadIndex, haversine_m

# Street 100 covers x∈[0,4], y∈[0,2]. Community 10 = [0,1]×[0,2], 11 = [1,2]×[0,2] hold the
# four unit-square grids; community 12 = [2,3]×[0,2] has no grids; x∈[3,4] is street only.
#   y=2 +----+----+
#       | 3  | 4  |      ids are deliberately not in spatial order: 3 is top-left
#   y=1 +----+----+
#       | 2  | 1  |
#   y=0 +----+----+
#       x=0  x=1  x=2
STREET = Area(100, Layer.STREET, "S", "街道", box(0, 0, 4, 2), None)
C_LEFT = Area(10, Layer.COMMUNITY, "C10", "左社区", box(0, 0, 1, 2), 100)
C_RIGHT = Area(11, Layer.COMMUNITY, "C11", "右社区", box(1, 0, 2, 2), 100)
C_EMPTY = Area(12, Layer.COMMUNITY, "C12", "无网格社区", box(2, 0, 3, 2), 100)
GRIDS = [
    Area(2, Layer.GRID, "G2", "左下", box(0, 0, 1, 1), 10),
    Area(1, Layer.GRID, "G1", "右下", box(1, 0, 2, 1), 11),
    Area(3, Layer.GRID, "G3", "左上", box(0, 1, 1, 2), 10),
    Area(4, Layer.GRID, "G4", "右上", box(1, 1, 2, 2), 11),
]


@pytest.fixture
def index() -> AreaIndex:
    # Order of input must not matter; mix layers and put children before parents.
    return AreaIndex([*GRIDS, C_EMPTY, STREET, C_RIGHT, C_LEFT])


def grid_id(index: AreaIndex, lat: float, lon: float) -> int | None:
    placement = index.locate(lat, lon)
    assert placement is not None
    return None if placement.grid is None else placement.grid.id


def test_interior_points(index: AreaIndex) -> None:
    placement = index.locate(0.5, 0.5)  # lat=y, lon=x
    assert placement is not None
    assert placement.grid is not None and placement.grid.code == "G2"
    assert placement.community is C_LEFT
    assert placement.street is STREET
    assert grid_id(index, 1.5, 1.5) == 4
    assert grid_id(index, 0.25, 1.75) == 1


def test_shared_border_resolves_to_lowest_id(index: AreaIndex) -> None:
    assert grid_id(index, 0.5, 1.0) == 1  # edge between G2 and G1
    assert grid_id(index, 1.0, 0.5) == 2  # edge between G2 and G3
    assert grid_id(index, 1.0, 1.0) == 1  # corner shared by all four
    assert grid_id(index, 2.0, 0.5) == 3  # outer edge still counts as inside


def test_outside_everything_is_none(index: AreaIndex) -> None:
    assert index.locate(2.5, 0.5) is None
    assert index.locate(0.5, -0.1) is None
    assert index.locate(math.nan, 0.5) is None


def test_grid_less_point_falls_back_to_community_then_street(index: AreaIndex) -> None:
    placement = index.locate(0.5, 2.5)
    assert placement is not None
    assert placement.grid is None
    assert placement.community is C_EMPTY
    assert placement.street is STREET
    placement = index.locate(0.5, 3.5)
    assert placement is not None
    assert (placement.grid, placement.community, placement.street) == (None, None, STREET)


def test_missing_parent_is_found_spatially() -> None:
    orphan = Area(7, Layer.GRID, "G7", "孤儿网格", box(0, 0, 1, 1), None)
    placement = AreaIndex([orphan, C_LEFT, STREET]).locate(0.5, 0.5)
    assert placement is not None
    assert (placement.grid, placement.community, placement.street) == (orphan, C_LEFT, STREET)


def test_locate_many_matches_locate(index: AreaIndex) -> None:
    points = [(0.5, 0.5), (1.0, 1.0), (0.5, 2.5), (0.5, 3.5), (2.5, 0.5), (1.5, 1.5)]
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    assert index.locate_many(lats, lons) == [index.locate(lat, lon) for lat, lon in points]
    assert index.locate_many([], []) == []


def test_size_bounds_and_validation(index: AreaIndex) -> None:
    assert len(index) == 8
    assert not index.is_empty
    assert index.bounds == (0.0, 0.0, 4.0, 2.0)
    empty = AreaIndex([])
    assert empty.is_empty and len(empty) == 0 and empty.bounds is None
    assert empty.locate(0.5, 0.5) is None
    road_area = Area(50, Layer.ROAD, "R", "路", LineString([(0, 0), (1, 0)]), None)
    assert len(AreaIndex([road_area, STREET])) == 1
    with pytest.raises(ValueError, match="duplicate"):
        AreaIndex([STREET, STREET])
    with pytest.raises(ValueError, match="not a polygon"):
        AreaIndex([Area(5, Layer.GRID, "G", "g", Point(0, 0), None)])


def test_haversine_known_distances() -> None:
    assert haversine_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(METRES_PER_DEGREE)
    assert haversine_m(35.0, 113.0, 36.0, 113.0) == pytest.approx(111_195.08, abs=0.01)
    # Along a parallel at 60° the small-distance length of a degree halves.
    assert haversine_m(60.0, 10.0, 60.0, 10.001) == pytest.approx(METRES_PER_DEGREE * 0.001 * 0.5, rel=1e-4)
    assert haversine_m(35.2, 113.2, 35.2, 113.2) == 0.0


def test_nearest_road_distance_in_metres() -> None:
    lat0 = 35.0
    # The longitude factor is taken at the query point's latitude, not the road's.
    k_lon = METRES_PER_DEGREE * math.cos(math.radians(lat0 + 0.0005))
    south = Road(1, "R0101", "人民路", LineString([(113.0, lat0), (113.01, lat0)]))
    north = Road(2, "R0201", "解放路", LineString([(113.0, lat0 + 0.002), (113.01, lat0 + 0.002)]))
    east = (3, "R0301", "民主路", LineString([(113.012, lat0 - 0.01), (113.012, lat0 + 0.01)]))
    roads = RoadIndex([north, south, east])
    assert len(roads) == 3

    found = roads.nearest(lat0 + 0.0005, 113.005, 100.0)
    assert found is not None
    assert found[0] is south
    assert found[1] == pytest.approx(0.0005 * METRES_PER_DEGREE)  # ≈ 55.6 m

    found = roads.nearest(lat0 + 0.0015, 113.005, 100.0)
    assert found is not None and found[0] is north
    assert roads.nearest(lat0 + 0.001, 113.005, 50.0) is None  # 111 m to both

    # East of the east road: distance is pure longitude, scaled by cos(lat).
    found = roads.nearest(lat0 + 0.0005, 113.0125, 100.0)
    assert found is not None and found[0].code == "R0301"
    assert found[1] == pytest.approx(0.0005 * k_lon, rel=1e-9)


def test_nearest_road_tie_picks_lowest_id_and_validates() -> None:
    a = Road(9, "A", "甲路", LineString([(0.0, 0.001), (0.01, 0.001)]))
    b = Road(4, "B", "乙路", LineString([(0.0, -0.001), (0.01, -0.001)]))
    found = RoadIndex([a, b]).nearest(0.0, 0.005, 500.0)
    assert found is not None and found[0] is b
    assert RoadIndex([]).nearest(0.0, 0.0, 100.0) is None
    with pytest.raises(ValueError):
        RoadIndex([a]).nearest(0.0, 0.0, -1.0)
    with pytest.raises(ValueError, match="duplicate"):
        RoadIndex([a, a])
