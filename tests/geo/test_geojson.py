"""GeoJSON import parsing: happy paths and every rejection naming the right JSON path."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from cityops.geo.geojson import GeoJSONError, Layer, order_for_import, parse_features, parse_layer

SQUARE = [[[113.0, 35.0], [113.001, 35.0], [113.001, 35.001], [113.0, 35.001], [113.0, 35.0]]]


def feature(
    code: Any = "G1",
    name: Any = "网格1",
    layer: str | None = "grid",
    geometry: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    props: dict[str, Any] = {"code": code, "name": name, **extra}
    if layer is not None:
        props["layer"] = layer
    if geometry is None:
        geometry = {"type": "Polygon", "coordinates": SQUARE}
    return {"type": "Feature", "properties": props, "geometry": geometry}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def error_of(data: Any, layer: Layer | None = None) -> GeoJSONError:
    with pytest.raises(GeoJSONError) as info:
        parse_features(data, layer)
    return info.value


def test_parses_collection_with_mixed_layers_from_bytes() -> None:
    road = {"type": "LineString", "coordinates": [[113.0, 35.0], [113.002, 35.0]]}
    doc = collection(
        feature("G1", parent="C1"),
        feature("410802001", "焦西街道", layer="街道"),
        feature("R0101", "人民路(建设路—民主路)", layer="路段", geometry=road, street="410802001"),
    )
    parsed = parse_features(json.dumps(doc, ensure_ascii=False).encode())
    assert [(f.layer, f.code, f.parent_code) for f in parsed] == [
        (Layer.GRID, "G1", "C1"),
        (Layer.STREET, "410802001", None),
        (Layer.ROAD, "R0101", "410802001"),
    ]
    assert parsed[0].geometry.geom_type == "Polygon"
    assert math.isclose(parsed[0].geometry.area, 1e-6)
    assert parsed[2].properties["street"] == "410802001"


def test_single_feature_layer_argument_and_numeric_codes() -> None:
    parsed = parse_features(feature(code=41080200100101, layer=None, parent=410802001001.0), Layer.GRID)
    assert parsed[0].code == "41080200100101"
    assert parsed[0].parent_code == "410802001001"
    assert parsed[0].layer is Layer.GRID


def test_utf8_bom_and_altitude_are_accepted() -> None:
    ring = [[x, y, 100.0] for x, y in SQUARE[0]]
    data = "\ufeff" + json.dumps(collection(feature(geometry={"type": "Polygon", "coordinates": [ring]})))
    parsed = parse_features(data.encode("utf-8"))
    assert not parsed[0].geometry.has_z


def test_empty_collection_gives_empty_list() -> None:
    assert parse_features('{"type": "FeatureCollection", "features": []}') == []


def test_layer_aliases() -> None:
    assert parse_layer(" 网格 ") is Layer.GRID
    assert parse_layer("COMMUNITY") is Layer.COMMUNITY
    with pytest.raises(ValueError):
        parse_layer("区")


def test_order_for_import_puts_parents_first_and_keeps_file_order() -> None:
    road = {"type": "LineString", "coordinates": [[113.0, 35.0], [113.002, 35.0]]}
    doc = collection(
        feature("R1", layer="road", geometry=road),
        feature("G2"),
        feature("C1", layer="community"),
        feature("G1"),
        feature("S1", layer="street"),
    )
    assert [f.code for f in order_for_import(parse_features(doc))] == ["S1", "C1", "G2", "G1", "R1"]


def test_malformed_json() -> None:
    assert error_of('{"type": "FeatureCollection", "features": [').field == "$"
    assert error_of(b"\xff\xfe not utf-8").field == "$"
    assert error_of("[1, 2]").field == "$"


def test_unknown_top_level_type() -> None:
    assert error_of({"type": "GeometryCollection"}).field == "type"
    assert error_of({"type": "FeatureCollection", "features": {}}).field == "features"


def test_wrong_geometry_type_per_layer() -> None:
    line = {"type": "LineString", "coordinates": [[113.0, 35.0], [113.002, 35.0]]}
    err = error_of(collection(feature(), feature("G2", geometry=line)))
    assert err.field == "features[1].geometry.type"
    assert "Polygon" in err.message
    err = error_of(collection(feature("R1", layer="road")))
    assert err.field == "features[0].geometry.type"


def test_self_intersecting_bow_tie_is_rejected_with_reason() -> None:
    bow_tie = [[[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]
    err = error_of(collection(feature(geometry={"type": "Polygon", "coordinates": bow_tie})))
    assert err.field == "features[0].geometry.coordinates"
    assert "Self-intersection" in err.message


@pytest.mark.parametrize(
    ("position", "field"),
    [
        ("[NaN, 35.0]", "features[0].geometry.coordinates[0][1][0]"),
        ("[113.0, Infinity]", "features[0].geometry.coordinates[0][1][1]"),
        ('[113.0, "35"]', "features[0].geometry.coordinates[0][1][1]"),
        ("[113.0, 95.0]", "features[0].geometry.coordinates[0][1][1]"),
        ("[181.0, 35.0]", "features[0].geometry.coordinates[0][1][0]"),
        ("[113.0]", "features[0].geometry.coordinates[0][1]"),
    ],
)
def test_bad_coordinates(position: str, field: str) -> None:
    ring = f"[[113.0, 35.0], {position}, [113.001, 35.001], [113.0, 35.001], [113.0, 35.0]]"
    text = (
        '{"type": "FeatureCollection", "features": [{"type": "Feature", '
        '"properties": {"code": "G1", "name": "n", "layer": "grid"}, '
        f'"geometry": {{"type": "Polygon", "coordinates": [{ring}]}}}}]}}'
    )
    assert error_of(text).field == field


def test_projected_and_swapped_coordinates_get_hints() -> None:
    projected = [[[12_600_000.0, 4_190_000.0], [12_600_100.0, 4_190_000.0], [12_600_100.0, 4_190_100.0]]]
    err = error_of(feature(geometry={"type": "Polygon", "coordinates": [projected[0] + [projected[0][0]]]}))
    assert err.field == "geometry.coordinates[0][0][0]"
    assert "projected" in err.message
    swapped = [[[35.0, 113.0], [35.001, 113.0], [35.001, 113.001], [35.0, 113.0]]]
    err = error_of(feature(geometry={"type": "Polygon", "coordinates": swapped}))
    assert "swapped" in err.message


def test_unclosed_ring_and_empty_geometry() -> None:
    open_ring = [SQUARE[0][:-1] + [[113.0, 35.0005]]]
    err = error_of(collection(feature(geometry={"type": "Polygon", "coordinates": open_ring})))
    assert err.field == "features[0].geometry.coordinates[0]"
    err = error_of(collection(feature(geometry={"type": "MultiPolygon", "coordinates": []})))
    assert err.field == "features[0].geometry.coordinates"
    assert err.message == "geometry is empty"
    err = error_of(collection(feature(geometry={"type": "MultiPolygon", "coordinates": [[]]})))
    assert err.field == "features[0].geometry.coordinates[0]"


def test_missing_geometry_and_degenerate_road() -> None:
    doc = collection(feature())
    doc["features"][0]["geometry"] = None
    assert error_of(doc).field == "features[0].geometry"
    point_road = {"type": "LineString", "coordinates": [[113.0, 35.0], [113.0, 35.0]]}
    err = error_of(collection(feature("R1", layer="road", geometry=point_road)))
    assert err.field == "features[0].geometry.coordinates"
    assert "Too few points" in err.message


def test_missing_or_bad_properties() -> None:
    assert error_of(collection(feature(), feature(code=None))).field == "features[1].properties.code"
    assert error_of(collection(feature(code="  "))).field == "features[0].properties.code"
    assert error_of(collection(feature(code=True))).field == "features[0].properties.code"
    assert error_of(collection(feature(name=""))).field == "features[0].properties.name"
    assert error_of(collection(feature(parent=[1]))).field == "features[0].properties.parent"
    doc = collection(feature())
    doc["features"][0]["properties"] = None
    assert error_of(doc).field == "features[0].properties.layer"
    assert error_of(collection({"type": "Point"})).field == "features[0]"


def test_layer_missing_unknown_or_contradicting_argument() -> None:
    assert error_of(collection(feature(layer=None))).field == "features[0].properties.layer"
    assert error_of(collection(feature(layer="district"))).field == "features[0].properties.layer"
    err = error_of(collection(feature(layer="street")), Layer.GRID)
    assert err.field == "features[0].properties.layer"


def test_duplicate_code_names_both_indexes() -> None:
    doc = collection(feature("G1"), feature("C1", layer="community"), feature("G1"))
    err = error_of(doc)
    assert err.field == "features[2].properties.code"
    assert "features[0]" in err.message
    # The same code on different layers is not a clash.
    assert len(parse_features(collection(feature("X1"), feature("X1", layer="community")))) == 2


def test_whole_file_rejected_when_a_late_feature_is_bad() -> None:
    features = [feature(f"G{i}") for i in range(5)] + [feature("G9", name=None)]
    assert error_of(collection(*features)).field == "features[5].properties.name"


def test_non_geographic_crs_rejected() -> None:
    doc = collection(feature())
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    assert error_of(doc).field == "crs"
    doc["crs"] = {"type": "name", "properties": ["EPSG:4326"]}
    assert error_of(doc).field == "crs"
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    assert len(parse_features(doc)) == 1


def test_error_is_a_value_error_with_readable_str() -> None:
    err = error_of(collection(feature(code=None)))
    assert isinstance(err, ValueError)
    assert str(err) == "features[0].properties.code: code is required"
