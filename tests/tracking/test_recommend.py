"""Recommendation ranking, pure: straight line × road factor ÷ mode speed, the street graph when one is loaded,
who is left out, and the arrival-deadline verdict. Expected values are worked out by hand below."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cityops.geo.index import METRES_PER_DEGREE
from cityops.tracking.recommend import OfficerIndex, RankParams
from cityops.tracking.roadnet import RoadNetwork

NOW = 1_800_000_000.0
PARAMS = RankParams.of(road_factor=1.3, mode_speeds={"walk": 1.4, "bike": 4.2, "car": 8.3}, deadline_s=900.0,
                       online_s=120.0, offline_s=600.0, limit=10)
M = METRES_PER_DEGREE  # 111,195.08 m per degree of latitude


def test_straight_line_ranking_by_travel_time() -> None:
    idx = OfficerIndex(capacity=2)  # grows as officers are added
    # (officer, degrees north of the case, mode, department, available, fix age s)
    for oid, dlat, mode, dept, available, age in [
        (1, 0.001, "walk", 7, True, 10), (2, 0.010, "car", 7, True, 10), (3, 0.005, "bike", 7, True, 10),
        (4, 0.010, "walk", 7, True, 10), (5, 0.0001, "walk", 8, True, 10), (6, 0.0001, "walk", 7, False, 10),
        (7, 0.0001, "walk", 7, True, 700), (8, 0.0005, "walk", 7, True, 300),
    ]:
        idx.upsert(oid, lat=35.0 + dlat, lon=113.0, t=NOW - age, mode=mode, department_id=dept, available=available)
    ranked = idx.rank(35.0, 113.0, now=NOW, params=PARAMS, departments=[7])
    # 5: other department; 6: not available; 7: last fix older than the offline timeout.
    assert [r.officer_id for r in ranked] == [8, 1, 3, 2, 4]
    expected_eta = {8: 0.0005 * M * 1.3 / 1.4, 1: 0.001 * M * 1.3 / 1.4, 3: 0.005 * M * 1.3 / 4.2,
                    2: 0.010 * M * 1.3 / 8.3, 4: 0.010 * M * 1.3 / 1.4}
    for r in ranked:
        assert r.eta_s == pytest.approx(expected_eta[r.officer_id], rel=1e-9)
    # 51.6 s, 103.3 s, 172.1 s, 174.2 s, 1032.5 s: only the last misses the 15-minute limit
    assert [round(r.eta_s, 1) for r in ranked] == [51.6, 103.3, 172.1, 174.2, 1032.5]
    assert [r.makes_deadline for r in ranked] == [True, True, True, True, False]
    assert [r.stale for r in ranked] == [True, False, False, False, False]  # 300 s old: position uncertain
    assert ranked[0].distance_m == pytest.approx(0.0005 * M, rel=1e-9)


def test_limit_ties_and_removal() -> None:
    idx = OfficerIndex()
    for oid in (30, 10, 20):  # all equally far: the lower id comes first
        idx.upsert(oid, lat=35.001, lon=113.0, t=NOW, mode="walk", department_id=1)
    params = RankParams.of(road_factor=1.3, mode_speeds={}, deadline_s=900, online_s=120, offline_s=600, limit=2)
    assert [r.officer_id for r in idx.rank(35.0, 113.0, now=NOW, params=params)] == [10, 20]
    idx.remove(10)
    idx.upsert(20, lat=35.002, lon=113.0, t=NOW)  # moved away
    assert [r.officer_id for r in idx.rank(35.0, 113.0, now=NOW, params=params)] == [30, 20]
    idx.set_available(30, False)
    assert [r.officer_id for r in idx.rank(35.0, 113.0, now=NOW, params=params)] == [20]


def river_network() -> tuple[RoadNetwork, float, float]:
    """Two east–west roads 100 m apart with one bridge at the east end, 1 km from the middle (metres → degrees)."""
    lat0, lon0 = 35.0, 113.0
    ky = M
    kx = M * math.cos(math.radians(lat0 + 50 / M / 2))  # the network projects around its mean latitude

    def ll(x: float, y: float) -> tuple[float, float]:
        return (lon0 + x / kx, lat0 + y / ky)

    segments = [(1, [ll(-1000, 0), ll(0, 0)]), (2, [ll(0, 0), ll(1000, 0)]),
                (3, [ll(-1000, 100), ll(1000, 100)]), (4, [ll(1000, 0), ll(1000, 100)])]
    return RoadNetwork(segments), kx, ky


def test_road_network_ranking_differs_from_straight_line() -> None:
    net, kx, ky = river_network()
    idx = OfficerIndex()
    # P stands on the north road right across the river (100 m straight, 1000 + 100 + 1000 m by road);
    # Q on the south road 500 m west of the case.
    idx.upsert(1, lat=35.0 + 100 / ky, lon=113.0, t=NOW, mode="walk")
    idx.upsert(2, lat=35.0, lon=113.0 - 500 / kx, t=NOW, mode="walk")
    straight = idx.rank(35.0, 113.0, now=NOW, params=PARAMS)
    assert [(r.officer_id, round(r.travel_m)) for r in straight] == [(1, 130), (2, 650)]
    by_road = idx.rank(35.0, 113.0, now=NOW, params=PARAMS, network=net)
    assert [(r.officer_id, round(r.travel_m)) for r in by_road] == [(2, 500), (1, 2100)]
    assert [round(r.eta_s, 1) for r in by_road] == [357.1, 1500.0]
    assert [r.makes_deadline for r in by_road] == [True, False]


def test_snapping_and_distances_on_the_graph() -> None:
    net, kx, ky = river_network()
    dist, snap = net.distances_from(*net.project(35.0, 113.0 + 250 / kx))  # on the south road, 250 m east
    assert float(snap.gap[0]) == pytest.approx(0.0, abs=1e-6)
    # nodes: (-1000,0) (0,0) (1000,0) (-1000,100) (1000,100); the north-west corner is reached over the bridge
    assert [round(float(d)) for d in dist] == [1250, 250, 750, 750 + 100 + 2000, 750 + 100]
    xs, ys = net.project_many(np.array([35.0 + 20 / ky, 35.0 + 50 / ky]), np.array([113.0 - 500 / kx] * 2))
    near = net.segments_near(xs, ys, max_m=25)
    assert near.tolist() == [1, -1]  # 20 m from segment 1; 50 m from both roads is too far
