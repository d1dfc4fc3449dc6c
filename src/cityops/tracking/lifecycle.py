"""Tracking's background work inside the app's lifespan: the history writer tick, the case-event listener
(officer status, auto-dispatch), periodic reconcile and retention, and the optional dedicated OsmAnd port.

``start`` returns a :class:`Tracker`; ``stop`` flushes what is buffered (a clean shutdown loses no fix).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import uvicorn

from cityops.audit import service as audit_service
from cityops.db import writing
from cityops.realtime.events import Audience, CaseChanged, PositionUpdated
from cityops.runtime import Runtime
from cityops.tracking import dispatch, history, service
from cityops.tracking.state import TrackingState, state_of

log = logging.getLogger(__name__)
RECONCILE_S = 30.0
RETENTION_S = 3600.0


class _EmbeddedServer(uvicorn.Server):
    """A second uvicorn server in the same event loop: the main server owns the signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listen_socket(host: str, port: int) -> socket.socket:
    # SO_REUSEPORT: with several workers each binds the same port and the kernel spreads the phones over them.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class Tracker:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.st: TrackingState = state_of(rt)
        self.st.tracker = self
        self.tasks: list[asyncio.Task[Any]] = []
        self.queue: asyncio.Queue[Any] | None = None
        self.server: _EmbeddedServer | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self, *, osmand_port: int | None = None, osmand_host: str = "0.0.0.0",
                    periodic: bool = True, hub: Any = None) -> None:
        rt, st = self.rt, self.st
        if hub is not None:
            hub.register("positions", lambda p: service.positions_snapshot(rt, p))
        rt.bus.watch(st.tasks.on_event)
        # Only case changes after the report can change an officer's status (see ``handle``).
        self.queue = rt.bus.subscribe(10_000, accept=_changes_officer_work)
        interval = rt.settings.tracking.history_flush_s
        self.tasks.append(asyncio.create_task(st.writer.run(interval, self.tick), name="tracking-history"))
        self.tasks.append(asyncio.create_task(self._listen(), name="tracking-listener"))
        if periodic:
            self.tasks.append(asyncio.create_task(self._periodic(), name="tracking-periodic"))
        if osmand_port is not None:
            from cityops.tracking.ingest_views import create_osmand_app

            config = uvicorn.Config(create_osmand_app(rt), log_level="warning", lifespan="off")
            self.server = _EmbeddedServer(config)
            sock = _listen_socket(osmand_host, osmand_port)
            self.tasks.append(asyncio.create_task(self.server.serve(sockets=[sock]), name="tracking-osmand"))

    async def tick(self) -> None:
        """After each history flush: Redis GEO, shared counters, and one position event per moved device."""
        st = self.st
        await st.store.flush()
        await st.flush_counters()
        if st.pending_events:
            pending, st.pending_events = st.pending_events, {}
            await self.rt.bus.send_event([_position_event(f) for f in pending.values()])

    async def _listen(self) -> None:
        assert self.queue is not None
        while True:
            event = await self.queue.get()
            self._idle.clear()
            try:
                await self.handle(event)
            except Exception:
                log.exception("tracking could not handle %s", getattr(event, "type", event))
            finally:
                if self.queue.empty():
                    self._idle.set()

    async def handle(self, event: Any) -> None:
        if not _changes_officer_work(event):
            return
        now = self.rt.clock()
        async with self.rt.sessionmaker() as session:
            holders = await service.officers_holding(session, event.case_id)
        await service.refresh_officers(self.rt, [*holders, *([event.officer_id] if event.officer_id else [])], now)
        if event.action == "file":
            await dispatch.auto_dispatch(self.rt, event.case_id, now)

    async def settled(self) -> None:
        """Wait until every case event published so far has been handled (tests, shutdown)."""
        await asyncio.sleep(0)
        while self.queue is not None and (not self.queue.empty() or not self._idle.is_set()):
            await self._idle.wait()
            await asyncio.sleep(0)

    async def _periodic(self) -> None:
        since_retention = RETENTION_S  # purge once at start, then hourly
        while True:
            now = self.rt.clock()
            try:
                await service.reconcile(self.rt, now)
                if since_retention >= RETENTION_S:
                    since_retention = 0.0
                    await purge(self.rt, now)
            except Exception:
                log.exception("tracking periodic work failed")
            await asyncio.sleep(RECONCILE_S)
            since_retention += RECONCILE_S

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        for task in reversed(self.tasks):
            if task.get_name() == "tracking-osmand":
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 5)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.queue is not None:
            self.rt.bus.unsubscribe(self.queue)
        self.rt.bus.unwatch(self.st.tasks.on_event)
        try:
            await self.st.writer.flush()
            await self.tick()
        except Exception:
            log.exception("final tracking flush failed")
        await self.st.close()
        with contextlib.suppress(AttributeError):
            del self.rt._tracking_state  # type: ignore[attr-defined]


def _changes_officer_work(event: Any) -> bool:
    # A new report has no officer yet: nobody's status can change.
    return isinstance(event, CaseChanged) and event.type != "case.created"


def _position_event(f: Any) -> PositionUpdated:
    return PositionUpdated(device_id=f.device_id, officer_id=f.officer_id, lat=f.lat, lon=f.lon, at=f.at,
                           speed_mps=f.speed_mps, bearing=f.bearing, accuracy_m=f.accuracy_m, battery=f.battery,
                           audience=Audience(user_ids=[f.officer_id] if f.officer_id is not None else []))


async def purge(rt: Runtime, now: datetime) -> int:
    """Delete history older than the retention period; an audit entry says how much went."""
    days = rt.settings.tracking.retention_days
    async with rt.sessionmaker() as session:
        removed = await history.purge(session, now=now, retention_days=days)
        if removed:
            async with writing(session):
                await audit_service.append(session, now=now, actor_id=None, action="positions.purged",
                                           entity_type="positions", entity_id="history",
                                           data={"removed": removed, "retention_days": days,
                                                 "before": (now - timedelta(days=days)).isoformat()})
    return removed


async def start(rt: Runtime, *, periodic: bool = True, hub: Any = None) -> Tracker:
    """Start tracking's background work (and the OsmAnd port when ``settings.osmand_port`` is set); ``periodic``
    (reconcile, retention) runs with the sweeper, so tests that turn the sweeper off get neither. With ``hub``,
    the live channel's ``positions`` topic gets its snapshot from here."""
    tracker = Tracker(rt)
    await tracker.start(osmand_port=rt.settings.osmand_port, osmand_host=rt.settings.osmand_host, periodic=periodic,
                        hub=hub)
    return tracker
