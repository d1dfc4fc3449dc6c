"""Parse and validate GeoJSON uploads of the administrative layers (街道/社区/单元网格/路段).

Everything is checked before anything is returned: one bad feature rejects the whole file, so
an import never leaves half a layer behind. Structure is validated by hand before shapely sees
it, so every error carries a JSON path (``features[3].geometry.coordinates[0][2][1]``) that the
API can hand back to the operator instead of a GEOS stack trace.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

__all__ = [
    "GeoFeature",
    "GeoJSONError",
    "Layer",
    "order_for_import",
    "parse_features",
    "parse_layer",
]


class Layer(StrEnum):
    """Administrative layer of a feature, coarse to fine, plus road segments."""

    STREET = "street"  # 街道
    COMMUNITY = "community"  # 社区
    GRID = "grid"  # 单元网格
    ROAD = "road"  # 路段

    @property
    def is_area(self) -> bool:
        return self is not Layer.ROAD

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS: dict[Layer, str] = {
    Layer.STREET: "街道",
    Layer.COMMUNITY: "社区",
    Layer.GRID: "单元网格",
    Layer.ROAD: "路段",
}

_LAYER_ALIASES: dict[str, Layer] = {
    "street": Layer.STREET,
    "街道": Layer.STREET,
    "community": Layer.COMMUNITY,
    "社区": Layer.COMMUNITY,
    "grid": Layer.GRID,
    "网格": Layer.GRID,
    "单元网格": Layer.GRID,
    "road": Layer.ROAD,
    "路段": Layer.ROAD,
}

# Streets before the communities that name them as parent, and so on down; roads last since
# they only optionally reference a street.
_IMPORT_RANK: dict[Layer, int] = {Layer.STREET: 0, Layer.COMMUNITY: 1, Layer.GRID: 2, Layer.ROAD: 3}

_AREA_TYPES = frozenset({"Polygon", "MultiPolygon"})
_LINE_TYPES = frozenset({"LineString", "MultiLineString"})

# CGCS2000 (EPSG:4490) differs from WGS84 by centimetres, so both are accepted; anything else
# named explicitly (Web Mercator, Xi'an 80 Gauss-Krüger …) would silently misplace every grid.
_GEOGRAPHIC_CRS = re.compile(r"(CRS:?84|EPSG:{1,2}(4326|4490)\b)", re.IGNORECASE)


class GeoJSONError(ValueError):
    """An upload is unusable; ``field`` is the JSON path of the offending value (``$`` = root)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.message = message
        self.field = field


@dataclass(frozen=True)
class GeoFeature:
    """One validated feature; geometry is 2-D shapely in lon/lat (WGS84/CGCS2000)."""

    layer: Layer
    code: str
    name: str
    parent_code: str | None
    geometry: BaseGeometry
    properties: dict[str, Any]


def parse_layer(value: object) -> Layer:
    """Read a layer name in English or Chinese; raises ValueError for anything else."""
    if isinstance(value, str):
        found = _LAYER_ALIASES.get(value.strip().lower())
        if found is not None:
            return found
    raise ValueError(f"unknown layer {value!r}; expected street/community/grid/road or 街道/社区/网格/路段")


def parse_features(data: bytes | str | Mapping[str, Any], layer: Layer | None = None) -> list[GeoFeature]:
    """Validate a FeatureCollection (or a single Feature) and return its features.

    ``layer`` forces the layer of every feature; otherwise each feature's ``properties.layer``
    decides. Raises :class:`GeoJSONError` on the first problem found.
    """
    doc = _load(data)
    kind = doc.get("type")
    _check_crs(doc)
    if kind == "FeatureCollection":
        raw = doc.get("features")
        if not isinstance(raw, list):
            raise GeoJSONError("FeatureCollection needs a 'features' array", "features")
        items: list[tuple[str, Any]] = [(f"features[{i}]", f) for i, f in enumerate(raw)]
    elif kind == "Feature":
        items = [("", doc)]
    else:
        raise GeoJSONError(f"expected type FeatureCollection or Feature, got {kind!r}", "type")

    features: list[GeoFeature] = []
    seen: dict[tuple[Layer, str], str] = {}
    for path, raw_feature in items:
        feature = _parse_feature(raw_feature, path, layer)
        key = (feature.layer, feature.code)
        if key in seen:
            raise GeoJSONError(
                f"duplicate {feature.layer.value} code {feature.code!r}: also used by {seen[key] or '$'}",
                _join(path, "properties.code"),
            )
        seen[key] = path
        features.append(feature)
    return features


def order_for_import(features: Iterable[GeoFeature]) -> list[GeoFeature]:
    """Parents first: streets, communities, grids, roads; file order kept within a layer."""
    return sorted(features, key=lambda f: _IMPORT_RANK[f.layer])


def _load(data: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(data, bytes | str):
        try:
            # utf-8-sig because files saved by Windows tools often start with a BOM.
            text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
            doc = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GeoJSONError(f"not valid UTF-8 JSON: {exc}", "$") from exc
    else:
        doc = data
    if not isinstance(doc, Mapping):
        raise GeoJSONError("top level must be a JSON object", "$")
    return doc


def _check_crs(doc: Mapping[str, Any]) -> None:
    crs = doc.get("crs")
    if crs is None:
        return
    props = crs.get("properties") if isinstance(crs, Mapping) else None
    name = props.get("name") if isinstance(props, Mapping) else None
    if not isinstance(name, str) or not _GEOGRAPHIC_CRS.search(name):
        raise GeoJSONError(
            f"unsupported crs {name!r}; export lon/lat in WGS84 (EPSG:4326) or CGCS2000 (EPSG:4490)",
            "crs",
        )


def _join(prefix: str, name: str) -> str:
    return name if not prefix else f"{prefix}.{name}"


def _parse_feature(raw: Any, path: str, forced: Layer | None) -> GeoFeature:
    if not isinstance(raw, Mapping) or raw.get("type") != "Feature":
        raise GeoJSONError("expected an object with type 'Feature'", path or "$")
    props = raw.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, Mapping):
        raise GeoJSONError("properties must be an object", _join(path, "properties"))

    layer = _feature_layer(props, path, forced)
    code = _code(props.get("code"), _join(path, "properties.code"), required=True)
    assert code is not None  # required=True never returns None
    name = props.get("name")
    if not isinstance(name, str) or not name.strip():
        raise GeoJSONError("name is required and must be a non-empty string", _join(path, "properties.name"))
    parent = _code(props.get("parent"), _join(path, "properties.parent"), required=False)
    if parent is None and layer is Layer.ROAD:
        parent = _code(props.get("street"), _join(path, "properties.street"), required=False)

    geometry = _geometry(raw.get("geometry"), _join(path, "geometry"), layer)
    return GeoFeature(layer, code, name.strip(), parent, geometry, dict(props))


def _feature_layer(props: Mapping[str, Any], path: str, forced: Layer | None) -> Layer:
    field = _join(path, "properties.layer")
    declared = props.get("layer")
    parsed: Layer | None = None
    if declared is not None and declared != "":
        try:
            parsed = parse_layer(declared)
        except ValueError as exc:
            raise GeoJSONError(str(exc), field) from exc
    if forced is not None:
        # A street file uploaded as "grids" would otherwise import silently as nonsense.
        if parsed is not None and parsed is not forced:
            raise GeoJSONError(
                f"feature is a {parsed.value} but the file is imported as {forced.value}", field
            )
        return forced
    if parsed is None:
        raise GeoJSONError("layer is required (street/community/grid/road)", field)
    return parsed


def _code(value: Any, field: str, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise GeoJSONError("code is required", field)
        return None
    if isinstance(value, bool):
        raise GeoJSONError("code must be a string or integer", field)
    if isinstance(value, int):
        return str(value)
    # Spreadsheet-derived exports often turn numeric code columns into floats (4.10802001e+11).
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, str):
        return value.strip()
    raise GeoJSONError("code must be a string or integer", field)


def _geometry(raw: Any, path: str, layer: Layer) -> BaseGeometry:
    if raw is None:
        raise GeoJSONError("geometry is required", path)
    if not isinstance(raw, Mapping):
        raise GeoJSONError("geometry must be an object", path)
    kind = raw.get("type")
    allowed = _AREA_TYPES if layer.is_area else _LINE_TYPES
    if kind not in allowed:
        raise GeoJSONError(
            f"a {layer.value} needs {' or '.join(sorted(allowed))} geometry, got {kind!r}", f"{path}.type"
        )
    coords_path = f"{path}.coordinates"
    coords = raw.get("coordinates")
    if not isinstance(coords, list | tuple):
        raise GeoJSONError("coordinates must be an array", coords_path)
    if not coords:
        raise GeoJSONError("geometry is empty", coords_path)
    if kind == "Polygon":
        _polygon(coords, coords_path)
    elif kind == "MultiPolygon":
        for i, part in enumerate(coords):
            _polygon(part, f"{coords_path}[{i}]")
    elif kind == "LineString":
        _line(coords, coords_path, min_points=2)
    else:
        for i, part in enumerate(coords):
            _line(part, f"{coords_path}[{i}]", min_points=2)

    # force_2d: altitude is meaningless for lookups and mixed 2-D/3-D input trips up GEOS ops.
    geom = shapely.force_2d(shape({"type": kind, "coordinates": coords}))
    if geom.is_empty:
        raise GeoJSONError("geometry is empty", coords_path)
    if not geom.is_valid:
        raise GeoJSONError(f"invalid geometry: {shapely.is_valid_reason(geom)}", coords_path)
    return geom


def _polygon(rings: Any, path: str) -> None:
    if not isinstance(rings, list | tuple) or not rings:
        raise GeoJSONError("polygon must be a non-empty array of rings", path)
    for i, ring in enumerate(rings):
        ring_path = f"{path}[{i}]"
        _line(ring, ring_path, min_points=4)
        if list(ring[0][:2]) != list(ring[-1][:2]):
            raise GeoJSONError("ring is not closed: first and last positions differ", ring_path)


def _line(positions: Any, path: str, *, min_points: int) -> None:
    if not isinstance(positions, list | tuple):
        raise GeoJSONError("expected an array of positions", path)
    if len(positions) < min_points:
        raise GeoJSONError(f"needs at least {min_points} positions, got {len(positions)}", path)
    for i, position in enumerate(positions):
        _position(position, f"{path}[{i}]")


def _position(value: Any, path: str) -> None:
    if not isinstance(value, list | tuple) or not 2 <= len(value) <= 3:
        raise GeoJSONError("position must be [lon, lat] or [lon, lat, alt]", path)
    for k, component in enumerate(value):
        if isinstance(component, bool) or not isinstance(component, int | float):
            raise GeoJSONError(f"coordinate must be a number, got {component!r}", f"{path}[{k}]")
        if not math.isfinite(component):
            raise GeoJSONError(f"coordinate must be finite, got {component!r}", f"{path}[{k}]")
    lon, lat = value[0], value[1]
    if not -180.0 <= lon <= 180.0:
        raise GeoJSONError(f"longitude {lon} outside [-180, 180]{_range_hint(value)}", f"{path}[0]")
    if not -90.0 <= lat <= 90.0:
        raise GeoJSONError(f"latitude {lat} outside [-90, 90]{_range_hint(value)}", f"{path}[1]")


def _range_hint(value: Sequence[float]) -> str:
    # The two usual culprits: projected metres, and [lat, lon] order copied from a map app.
    if any(abs(c) > 1000 for c in value[:2]):
        return "; coordinates look projected (metres), export as longitude/latitude degrees"
    if abs(value[1]) > 90 >= abs(value[0]):
        return "; GeoJSON order is [lon, lat], are they swapped?"
    return ""
