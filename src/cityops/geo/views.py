"""Geography: layers as GeoJSON, point lookup, import."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.db import writing
from cityops.deps import DbSession, Now, allow, public
from cityops.errors import InvalidInput
from cityops.geo import service as geo_service
from cityops.geo.geojson import Layer
from cityops.runtime import Runtime

router = APIRouter(prefix="/api/v1/geo", tags=["geography"])
MAX_IMPORT_BYTES = 50 * 1024 * 1024


@router.get("/layers/{layer}", summary="A layer (street/community/grid/road) as a GeoJSON FeatureCollection")
async def layer(layer: Layer, session: DbSession, _: Annotated[Principal | None, public()]) -> dict[str, Any]:
    return await geo_service.layer_geojson(session, layer)


@router.get("/locate", summary="Which grid, community and street a point falls in")
async def locate(request: Request, session: DbSession, _: Annotated[Principal | None, public()],
                 lat: Annotated[float, Query(ge=-90, le=90)], lon: Annotated[float, Query(ge=-180, le=180)],
                 ) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    place = (await rt.area_index(session)).locate(lat, lon)
    if place is None:
        raise InvalidInput(f"point {lat}, {lon} is outside the district", field="lat")

    def one(a: Any) -> dict[str, Any] | None:
        return None if a is None else {"id": a.id, "code": a.code, "name": a.name}

    return {"grid": one(place.grid), "community": one(place.community), "street": one(place.street)}


@router.post("/import", summary="Import a GeoJSON FeatureCollection (all or nothing)")
async def import_geojson(request: Request, session: DbSession, now: Now,
                         caller: Annotated[Principal, allow(Role.ADMIN)],
                         layer: Layer | None = None, replace: bool = False) -> dict[str, int]:
    body = await request.body()
    if len(body) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"file larger than {MAX_IMPORT_BYTES // 1024 // 1024} MB", field="body")
    async with writing(session):
        counts = await geo_service.import_geojson(session, data=body, layer=layer, now=now,
                                                  actor_id=caller.user_id, replace=replace)
    request.app.state.runtime.invalidate()
    return counts
