"""The ASGI app: REST API, error mapping, background sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cityops import __version__, allocator
from cityops.audit.views import router as audit_router
from cityops.auth.views import router as auth_router
from cityops.case import sweeper
from cityops.case.public import router as public_router
from cityops.case.views import router as case_router
from cityops.catalog.views import router as catalog_router
from cityops.config import Settings
from cityops.deadlines.views import router as calendar_router
from cityops.errors import error_body, install_handlers
from cityops.evaluation.views import router as evaluation_router
from cityops.geo.views import router as geo_router
from cityops.media import maintenance as media_maintenance
from cityops.media.tus import router as tus_router
from cityops.media.views import router as evidence_router
from cityops.open311.views import router as open311_router
from cityops.org.views import router as org_router
from cityops.realtime import providers
from cityops.realtime.hub import Hub
from cityops.realtime.views import router as realtime_router
from cityops.runtime import Runtime
from cityops.tracking import lifecycle as tracking_lifecycle
from cityops.tracking.ingest_views import router as osmand_router
from cityops.tracking.views import router as tracking_router
from cityops.web import views as web

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None,
               run_sweeper: bool = True, server_process: bool = False) -> FastAPI:
    """The app. ``server_process`` (``cityops serve``, ``cityops.asgi``): the C allocator keeps request-sized memory
    for reuse (``allocator.py``), and after start-up the objects that live as long as the process
    (modules, routes, mappers, catalog, grid index) are moved out of the garbage collector's sight with
    ``gc.freeze()``. Otherwise every full collection walks all of them again — about 100 ms with the event loop
    stopped, every second or so under load, which is what a request's 99th-percentile latency was made of."""
    settings = settings or (runtime.settings if runtime else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or Runtime.create(settings)
        app.state.runtime = rt
        app.state.settings = rt.settings
        app.state.sessionmaker = rt.sessionmaker
        app.state.clock = rt.clock
        await rt.bus.start()
        hub = Hub()
        providers.install(hub, rt)
        hub.start(rt.bus.subscribe(maxsize=10_000))
        app.state.hub = hub
        tracker = await tracking_lifecycle.start(rt, periodic=run_sweeper, hub=hub)
        tasks = [asyncio.create_task(sweeper.run_forever(rt)),
                 asyncio.create_task(media_maintenance.purge_forever(rt))] if run_sweeper else []
        if server_process:
            allocator.tune()
            await rt.catalog()
            await rt.area_index()
            await rt.calendar()
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await tracker.stop()
            await hub.stop()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if runtime is None:
                await rt.close()

    app = FastAPI(title="cityops", version=__version__, lifespan=lifespan,
                  description="Smart city-management dispatch platform (智慧城管可视化执法调度平台)")
    install_handlers(app)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal_error", "internal error; it has been logged"), 500)

    # Routes are matched in order, and every router passed costs each request a scan of its routes: the busiest
    # (reports and their reads, position ingest, uploads) come first.
    for r in (case_router, open311_router, osmand_router, tus_router, tracking_router, auth_router, org_router,
              catalog_router, geo_router, public_router, calendar_router, audit_router, realtime_router,
              evidence_router, evaluation_router):
        app.include_router(r)

    web.mount(app)

    @app.get("/healthz", tags=["meta"], summary="Liveness (also the benchmarks' hello-world baseline)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
