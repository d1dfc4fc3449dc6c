"""A synthetic, deterministic demo district around 焦作 (Jiaozuo) for demos, tests and seeding.

The district is a rectangle of ``cols × rows`` square cells (万米单元网格) centred on a point:
three streets (街道) are vertical bands, each split 2 × 2 into communities (社区), each holding
its share of the cells as grids. Roads run along every second grid line and are cut into
segments (路段) between consecutive intersections. Names are invented but sound local; codes
follow the national pattern: 6-digit county (410802 解放区) + 3-digit street + 3-digit
community (+ 2-digit grid serial for the legacy 14-digit grid code).

Everything is GeoJSON dicts, ready for :func:`cityops.geo.geojson.parse_features`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cityops.geo.geojson import Layer
from cityops.geo.index import METRES_PER_DEGREE

__all__ = ["COUNTY_CODE", "DemoDistrict", "Intersection", "generate_district", "random_point_in"]

COUNTY_CODE = "410802"  # 焦作市解放区

STREET_NAMES = ("焦西街道", "新华街道", "焦东街道")  # west → east
COMMUNITY_NAMES = (
    "建设社区", "民主社区", "和平社区", "幸福社区",
    "光明社区", "胜利社区", "团结社区", "朝阳社区",
    "丰收社区", "山阳社区", "太行社区", "龙源社区",
)  # fmt: skip
# North–south roads west → east, east–west roads north → south.
NS_ROAD_NAMES = ("龙源路", "塔南路", "和平街", "民主路", "新华街", "焦东路", "站前路", "塔北路")
EW_ROAD_NAMES = ("丰收路", "人民路", "解放路", "建设路", "山阳路", "太行路", "迎宾路")

Ring = list[list[float]]
FeatureCollection = dict[str, Any]


@dataclass(frozen=True)
class Intersection:
    """Crossing of a north–south road with an east–west road."""

    lat: float
    lon: float
    ns_road: str
    ew_road: str


@dataclass(frozen=True)
class DemoDistrict:
    """Four GeoJSON FeatureCollections plus the district's (min lon, min lat, max lon, max lat)."""

    streets: FeatureCollection
    communities: FeatureCollection
    grids: FeatureCollection
    roads: FeatureCollection
    bounds: tuple[float, float, float, float]
    intersections: tuple[Intersection, ...]

    def layers(self) -> list[tuple[Layer, FeatureCollection]]:
        """The collections in import order (parents first)."""
        return [
            (Layer.STREET, self.streets),
            (Layer.COMMUNITY, self.communities),
            (Layer.GRID, self.grids),
            (Layer.ROAD, self.roads),
        ]

    def address_for(self, lat: float, lon: float) -> str:
        """A landmark-style address from the nearest intersection, e.g. "人民路与民主路交叉口东50米"."""
        kx = METRES_PER_DEGREE * math.cos(math.radians(lat))
        ky = METRES_PER_DEGREE

        def offset(node: Intersection) -> tuple[float, float]:
            return (lon - node.lon) * kx, (lat - node.lat) * ky

        node = min(self.intersections, key=lambda n: math.hypot(*offset(n)))
        dx, dy = offset(node)
        # Dispatchers read "东50米", not "东47米": round to 10 m, which is also about GPS accuracy.
        distance = int(round(math.hypot(dx, dy) / 10.0)) * 10
        base = f"{node.ew_road}与{node.ns_road}交叉口"
        if distance == 0:
            return base
        return f"{base}{_direction(dx, dy)}{distance}米"


def generate_district(
    center_lat: float = 35.23,
    center_lon: float = 113.24,
    cols: int = 12,
    rows: int = 8,
    cell_m: float = 150.0,
) -> DemoDistrict:
    """Build the demo district; same arguments always give byte-identical output."""
    if cols <= 0 or cols % 6:
        raise ValueError("cols must be a positive multiple of 6 (3 streets × 2 community columns)")
    if rows <= 0 or rows % 2:
        raise ValueError("rows must be a positive even number (2 community rows)")
    if (cols // 6) * (rows // 2) > 99:
        raise ValueError("at most 99 grids per community fit the 2-digit grid serial")
    if not cell_m > 0:
        raise ValueError("cell_m must be positive")

    dlat = cell_m / METRES_PER_DEGREE
    dlon = cell_m / (METRES_PER_DEGREE * math.cos(math.radians(center_lat)))
    west = center_lon - cols * dlon / 2
    south = center_lat - rows * dlat / 2
    # Every vertex comes from these two rounded lists, so neighbours share coordinates exactly:
    # no slivers or overlaps between grids after rounding.
    xs = [round(west + i * dlon, 7) for i in range(cols + 1)]
    ys = [round(south + j * dlat, 7) for j in range(rows + 1)]

    streets, communities, grids = _areas(xs, ys, cols, rows)
    roads, intersections = _roads(xs, ys, cols, rows)
    return DemoDistrict(
        streets=_collection(streets),
        communities=_collection(communities),
        grids=_collection(grids),
        roads=_collection(roads),
        bounds=(xs[0], ys[0], xs[-1], ys[-1]),
        intersections=tuple(intersections),
    )


def random_point_in(bounds: Sequence[float], rng: random.Random) -> tuple[float, float]:
    """A uniform random ``(lat, lon)`` inside ``(minx, miny, maxx, maxy)``, rounded to 7 decimals."""
    minx, miny, maxx, maxy = bounds
    return round(rng.uniform(miny, maxy), 7), round(rng.uniform(minx, maxx), 7)


def _areas(
    xs: list[float], ys: list[float], cols: int, rows: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    band = cols // 3  # columns per street
    half_cols, half_rows = band // 2, rows // 2  # cells per community
    streets: list[dict[str, Any]] = []
    communities: list[dict[str, Any]] = []
    grids: list[dict[str, Any]] = []
    for s, street_name in enumerate(STREET_NAMES):
        street_code = f"{COUNTY_CODE}{s + 1:03d}"
        c0 = s * band
        streets.append(
            _feature(Layer.STREET, street_code, street_name, None, _rect(xs, ys, c0, 0, band, rows))
        )
        serial = 0
        # Numbered from the north-west corner, reading order, as on the paper maps.
        for v in (1, 0):
            for h in (0, 1):
                serial += 1
                community_code = f"{street_code}{serial:03d}"
                community_name = COMMUNITY_NAMES[s * 4 + serial - 1]
                cc, rr = c0 + h * half_cols, v * half_rows
                geometry = _rect(xs, ys, cc, rr, half_cols, half_rows)
                communities.append(
                    _feature(Layer.COMMUNITY, community_code, community_name, street_code, geometry)
                )
                grid_serial = 0
                for r in reversed(range(rr, rr + half_rows)):
                    for c in range(cc, cc + half_cols):
                        grid_serial += 1
                        grids.append(
                            _feature(
                                Layer.GRID,
                                f"{community_code}{grid_serial:02d}",
                                f"{community_name}{grid_serial:02d}网格",
                                community_code,
                                _rect(xs, ys, c, r, 1, 1),
                            )
                        )
    return streets, communities, grids


def _roads(
    xs: list[float], ys: list[float], cols: int, rows: int
) -> tuple[list[dict[str, Any]], list[Intersection]]:
    ns_lines = list(range(0, cols + 1, 2))  # west → east
    ew_lines = list(range(rows, -1, -2))  # north → south
    ns_names = [_road_name(NS_ROAD_NAMES, k, "经") for k in range(len(ns_lines))]
    ew_names = [_road_name(EW_ROAD_NAMES, k, "纬") for k in range(len(ew_lines))]
    band = cols // 3
    features: list[dict[str, Any]] = []
    number = 0

    for k, i in enumerate(ns_lines):
        number += 1
        for m in range(len(ew_lines) - 1):
            j0, j1 = ew_lines[m], ew_lines[m + 1]
            name = f"{ns_names[k]}({ew_names[m]}—{ew_names[m + 1]})"
            # A road on the seam between two streets belongs to neither.
            bands = [b for b in range(3) if b * band <= i <= (b + 1) * band]
            street = _street_code(bands[0]) if len(bands) == 1 else None
            coords = [[xs[i], ys[j0]], [xs[i], ys[j1]]]
            features.append(_segment(number, m + 1, name, ns_names[k], street, coords))

    for k, j in enumerate(ew_lines):
        number += 1
        for m in range(len(ns_lines) - 1):
            i0, i1 = ns_lines[m], ns_lines[m + 1]
            name = f"{ew_names[k]}({ns_names[m]}—{ns_names[m + 1]})"
            street = _street_code(min((i0 + i1) // 2 // band, 2))
            coords = [[xs[i0], ys[j]], [xs[i1], ys[j]]]
            features.append(_segment(number, m + 1, name, ew_names[k], street, coords))

    intersections = [
        Intersection(lat=ys[j], lon=xs[i], ns_road=ns_names[a], ew_road=ew_names[b])
        for a, i in enumerate(ns_lines)
        for b, j in enumerate(ew_lines)
    ]
    return features, intersections


def _segment(
    number: int, serial: int, name: str, road: str, street: str | None, coords: list[list[float]]
) -> dict[str, Any]:
    geometry = {"type": "LineString", "coordinates": coords}
    feature = _feature(Layer.ROAD, f"R{number:02d}{serial:02d}", name, None, geometry)
    feature["properties"]["road"] = road
    if street is not None:
        feature["properties"]["street"] = street
    return feature


def _road_name(names: Sequence[str], k: int, prefix: str) -> str:
    # Bigger-than-default districts run out of invented names; numbered 经/纬 roads are how
    # new Chinese districts are named anyway.
    return names[k] if k < len(names) else f"{prefix}{k + 1}路"


def _street_code(band: int) -> str:
    return f"{COUNTY_CODE}{band + 1:03d}"


def _rect(xs: list[float], ys: list[float], col: int, row: int, width: int, height: int) -> dict[str, Any]:
    x0, x1, y0, y1 = xs[col], xs[col + width], ys[row], ys[row + height]
    # Counter-clockwise exterior, as RFC 7946 recommends.
    ring: Ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def _feature(
    layer: Layer, code: str, name: str, parent: str | None, geometry: dict[str, Any]
) -> dict[str, Any]:
    properties: dict[str, Any] = {"code": code, "name": name, "layer": layer.value}
    if parent is not None:
        properties["parent"] = parent
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def _collection(features: list[dict[str, Any]]) -> FeatureCollection:
    return {"type": "FeatureCollection", "features": features}


def _direction(dx: float, dy: float) -> str:
    east_west = "东" if dx > 0 else "西"
    north_south = "北" if dy > 0 else "南"
    if abs(dx) >= 2 * abs(dy):
        return east_west
    if abs(dy) >= 2 * abs(dx):
        return north_south
    return east_west + north_south
