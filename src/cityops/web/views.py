"""Serves the web faces and their small JSON helpers (UI configuration, the wall screen's figures)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, select

from cityops.auth.roles import CASE_READERS
from cityops.auth.service import Principal
from cityops.case import workflow as wf
from cityops.case.models import Case
from cityops.deps import DbSession, Now, allow, public

STATIC = Path(__file__).parent / "static"
router = APIRouter(tags=["web"])


def mount(app: FastAPI) -> None:
    import xstatic.pkg.leaflet as leaflet
    import xstatic.pkg.leaflet_markercluster as markercluster

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/vendor/leaflet", StaticFiles(directory=leaflet.BASE_DIR), name="leaflet")
    app.mount("/vendor/markercluster", StaticFiles(directory=markercluster.BASE_DIR), name="markercluster")
    app.include_router(router)


def _page(path: str) -> FileResponse:
    # no-cache: a redeploy must reach every console on the next reload.
    return FileResponse(STATIC / path, headers={"Cache-Control": "no-cache"})


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    return RedirectResponse("/console")


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> FileResponse:
    return FileResponse(STATIC / "common/icon.svg", media_type="image/svg+xml")


@router.get("/console", include_in_schema=False)
async def console() -> FileResponse:
    return _page("console/index.html")


@router.get("/console/wall", include_in_schema=False)
async def wall() -> FileResponse:
    return _page("console/wall.html")


@router.get("/field", include_in_schema=False)
async def field() -> FileResponse:
    return _page("field/index.html")


@router.get("/field/sw.js", include_in_schema=False)
async def service_worker() -> FileResponse:
    # Served from /field/ so the worker's scope is the field app.
    return FileResponse(STATIC / "field/sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/report", include_in_schema=False)
async def report() -> FileResponse:
    return _page("report/index.html")


@router.get("/api/v1/ui/config", summary="Map and language settings of the web faces")
async def ui_config(request: Request, _: Annotated[Principal | None, public()]) -> dict[str, Any]:
    s = request.app.state.settings
    return {"tile_url": s.tile_url, "tile_attribution": s.tile_attribution, "tile_crs": s.tile_crs,
            "center": [s.map_center_lat, s.map_center_lon], "zoom": s.map_zoom, "language": "zh-CN",
            "timezone": s.timezone, "arrive_minutes": s.steps.arrive_minutes,
            "feedback_minutes": s.steps.feedback_minutes}


@router.get("/api/v1/stats/today", summary="Headline figures for the wall screen (大屏)")
async def today(request: Request, session: DbSession, now: Now,
                _: Annotated[Principal, allow(*CASE_READERS)]) -> dict[str, Any]:
    """Today's reports and month-to-date rates. Formulas: disposal rate = handled ÷ dispatched; on-time arrival =
    arrivals within the arrive limit ÷ arrivals; average handling = mean(handled − dispatched); all over cases
    dispatched since the first of the month (local time)."""
    tz = ZoneInfo(request.app.state.settings.timezone)
    local = now.astimezone(tz)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month_start = day_start.replace(day=1)
    limit = timedelta(minutes=request.app.state.settings.steps.arrive_minutes)
    today_count = await session.scalar(select(func.count(Case.id)).where(Case.created_at >= day_start)) or 0
    open_count = await session.scalar(select(func.count(Case.id)).where(
        Case.status.notin_([s.value for s in wf.TERMINAL]))) or 0
    rows = (await session.execute(select(Case.dispatched_at, Case.arrived_at, Case.handled_at).where(
        Case.dispatched_at >= month_start))).all()
    dispatched = len(rows)
    handled = [(h - d) for d, _, h in rows if h is not None and d is not None and h >= d]
    arrivals = [(a - d) for d, a, _ in rows if a is not None and d is not None and a >= d]
    online = None
    counter = getattr(request.app.state, "online_officers", None)
    if counter is not None:
        online = await counter()
    return {
        "date": day_start.date().isoformat(), "today_cases": today_count, "open_cases": open_count,
        "dispatched_month": dispatched,
        "disposal_rate": round(len(handled) / dispatched, 4) if dispatched else None,
        "on_time_arrival_rate": round(sum(1 for a in arrivals if a <= limit) / len(arrivals), 4) if arrivals else None,
        "avg_handling_minutes": (round(sum(h.total_seconds() for h in handled) / len(handled) / 60, 1)
                                 if handled else None),
        "online_officers": online,
    }


__all__ = ["datetime", "mount", "router"]
