"""Geography persistence: GeoJSON import (all or nothing), layers as GeoJSON, point lookup."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shapely import wkt
from shapely.geometry import mapping
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.errors import Conflict, InvalidInput
from cityops.geo.geojson import GeoJSONError, Layer, order_for_import, parse_features
from cityops.geo.index import haversine_m
from cityops.geo.models import AreaRow, RoadSegment

_PARENT_LAYER = {Layer.GRID: Layer.COMMUNITY, Layer.COMMUNITY: Layer.STREET}


def _length_m(geom: Any) -> float:
    lines = getattr(geom, "geoms", [geom])
    return sum(haversine_m(y1, x1, y2, x2) for line in lines
               for (x1, y1), (x2, y2) in zip(line.coords, list(line.coords)[1:], strict=False))


async def import_geojson(
    session: AsyncSession, *, data: bytes | str | dict[str, Any], layer: Layer | None, now: datetime,
    actor_id: int | None, replace: bool = False,
) -> dict[str, int]:
    """Validate the whole file, then write it. A code already stored is refused unless ``replace``."""
    try:
        features = order_for_import(parse_features(data, layer))
    except GeoJSONError as e:
        raise InvalidInput(e.message, field=e.field) from e
    if not features:
        raise InvalidInput("the file has no features", field="features")
    counts: dict[str, int] = {}
    ids: dict[tuple[Layer, str], int] = {
        (Layer(lay), code): i
        for i, lay, code in (await session.execute(select(AreaRow.id, AreaRow.layer, AreaRow.code)))
    }
    for f in features:
        wkt_text = f.geometry.wkt
        if f.layer is Layer.ROAD:
            street_code = f.properties.get("street") or f.parent_code
            street_id = ids.get((Layer.STREET, str(street_code))) if street_code else None
            row = await session.scalar(select(RoadSegment).where(RoadSegment.code == f.code))
            if row is not None and not replace:
                raise Conflict(f"road segment {f.code!r} is already imported (use replace)", field="properties.code")
            if row is None:
                row = RoadSegment(code=f.code)
                session.add(row)
            row.name, row.road, row.street_id = f.name, f.properties.get("road"), street_id
            row.geometry_wkt, row.length_m, row.properties = wkt_text, _length_m(f.geometry), f.properties
        else:
            parent_id = None
            if f.layer in _PARENT_LAYER and f.parent_code:
                parent_id = ids.get((_PARENT_LAYER[f.layer], f.parent_code))
                if parent_id is None:
                    raise InvalidInput(
                        f"{f.layer.value} {f.code}: parent {_PARENT_LAYER[f.layer].value} {f.parent_code!r} "
                        "is neither in the file nor imported before", field="properties.parent")
            area = await session.scalar(select(AreaRow).where(AreaRow.layer == f.layer.value, AreaRow.code == f.code))
            if area is not None and not replace:
                raise Conflict(f"{f.layer.value} {f.code!r} is already imported (use replace)", field="properties.code")
            if area is None:
                area = AreaRow(layer=f.layer.value, code=f.code)
                session.add(area)
            minx, miny, maxx, maxy = f.geometry.bounds
            area.name, area.parent_id, area.geometry_wkt, area.properties = f.name, parent_id, wkt_text, f.properties
            area.min_lon, area.min_lat, area.max_lon, area.max_lat = minx, miny, maxx, maxy
            await session.flush()
            ids[(f.layer, f.code)] = area.id
        counts[f.layer.value] = counts.get(f.layer.value, 0) + 1
    await session.flush()
    await audit_service.append(session, now=now, actor_id=actor_id, action="geo.imported", entity_type="geo",
                               entity_id=",".join(sorted(counts)), data=counts)
    return counts


async def layer_geojson(session: AsyncSession, layer: Layer) -> dict[str, Any]:
    features: list[dict[str, Any]] = []
    if layer is Layer.ROAD:
        for r in (await session.execute(select(RoadSegment).order_by(RoadSegment.id))).scalars():
            features.append({"type": "Feature", "id": r.id, "geometry": mapping(wkt.loads(r.geometry_wkt)),
                             "properties": {"code": r.code, "name": r.name, "road": r.road,
                                            "length_m": round(r.length_m, 1), "layer": "road"}})
    else:
        q = select(AreaRow).where(AreaRow.layer == layer.value).order_by(AreaRow.id)
        rows = (await session.execute(q)).scalars()
        for a in rows:
            features.append({"type": "Feature", "id": a.id, "geometry": mapping(wkt.loads(a.geometry_wkt)),
                             "properties": {"code": a.code, "name": a.name, "parent_id": a.parent_id,
                                            "layer": a.layer}})
    return {"type": "FeatureCollection", "features": features}
