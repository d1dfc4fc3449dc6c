"""What tracking keeps in memory per running server: device lookup cache, filter memory, the latest-position
store, the history writer, drop/reject counters, open-task cache for arrival detection, the road network.

One :class:`TrackingState` hangs off each :class:`~cityops.runtime.Runtime` (``state_of(rt)``), created on first
use, so services, views and background tasks of one app share it and tests get a fresh one per runtime.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.auth.models import User
from cityops.case.models import Case
from cityops.geo.models import RoadSegment
from cityops.realtime.events import CaseChanged
from cityops.runtime import Runtime
from cityops.tracking.arrival import ARRIVABLE, Task
from cityops.tracking.filters import Last, Limits
from cityops.tracking.history import HistoryWriter
from cityops.tracking.models import Device
from cityops.tracking.roadnet import RoadNetwork
from cityops.tracking.store import Latest, MemoryStore, make_store

DEVICE_TTL_S = 30.0  # device edits in another process show up here within this time
UNKNOWN_TTL_S = 5.0  # unknown identifiers are re-checked this often (a flood of them cannot hammer the database)
TASKS_TTL_S = 2.0  # other processes' dispatches reach arrival detection within this time
NETWORK_CHECK_S = 30.0
COUNTERS_KEY = "cityops:trk:counters"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: int
    identifier: str
    officer_id: int | None
    department_id: int | None
    officer_username: str | None
    officer_name: str | None
    mode: str
    require_token: bool
    is_active: bool


class DeviceCache:
    def __init__(self) -> None:
        self._by_identifier: dict[str, tuple[float, DeviceInfo | None]] = {}

    def invalidate(self, identifier: str | None = None) -> None:
        if identifier is None:
            self._by_identifier.clear()
        else:
            self._by_identifier.pop(identifier, None)

    async def resolve(self, rt: Runtime, identifiers: Iterable[str]) -> dict[str, DeviceInfo | None]:
        now = time.monotonic()
        found: dict[str, DeviceInfo | None] = {}
        missing: list[str] = []
        for ident in identifiers:
            hit = self._by_identifier.get(ident)
            if hit is not None and hit[0] > now:
                found[ident] = hit[1]
            else:
                missing.append(ident)
        if missing:
            async with rt.sessionmaker() as session:
                rows = (await session.execute(
                    select(Device, User.username, User.display_name, User.department_id)
                    .outerjoin(User, User.id == Device.officer_id).where(Device.identifier.in_(missing)))).all()
            loaded = {d.identifier: DeviceInfo(d.id, d.identifier, d.officer_id, dept, uname, dname, d.mode,
                                               d.require_token, d.is_active) for d, uname, dname, dept in rows}
            for ident in missing:
                info = loaded.get(ident)
                self._by_identifier[ident] = (now + (DEVICE_TTL_S if info else UNKNOWN_TTL_S), info)
                found[ident] = info
        return found


class OpenTasks:
    """Open tasks (accepted / en route) per officer, for arrival detection on the ingest path.

    Reloaded in one query when older than TASKS_TTL_S, and at once after a case event of this process (or, with
    Redis, of another): ``on_event`` watches the bus, so a fix posted right after a dispatch already sees it.
    """

    def __init__(self) -> None:
        self.by_officer: dict[int, list[Task]] = {}
        self.loaded_at = -1e9

    def invalidate(self) -> None:
        self.loaded_at = -1e9

    def on_event(self, event: Any) -> None:
        # Only case events change tasks; positions (this module's own, every second) do not.
        if isinstance(event, CaseChanged):
            self.loaded_at = -1e9

    async def get(self, rt: Runtime, officer_id: int) -> list[Task]:
        if time.monotonic() - self.loaded_at > TASKS_TTL_S:
            async with rt.sessionmaker() as session:
                rows = (await session.execute(
                    select(Case.id, Case.officer_id, Case.lat, Case.lon, Case.status)
                    .where(Case.status.in_(ARRIVABLE), Case.officer_id.is_not(None)))).all()
            tasks: dict[int, list[Task]] = {}
            for cid, oid, lat, lon, status in rows:
                if oid is not None:
                    tasks.setdefault(oid, []).append(Task(cid, lat, lon, status))
            self.by_officer = tasks
            self.loaded_at = time.monotonic()
        return self.by_officer.get(officer_id, [])


@dataclass
class _NetworkCache:
    value: RoadNetwork | None = None
    signature: tuple[Any, ...] | None = None
    checked_at: float = -1e9
    targets: dict[tuple[float, float], Any] = field(default_factory=dict)


class TrackingState:
    def __init__(self, rt: Runtime) -> None:
        cfg = rt.settings.tracking
        self.limits = Limits(accuracy_m=cfg.accuracy_limit_m, max_speed_mps=cfg.max_speed_mps,
                             future_s=cfg.future_limit_s, past_s=cfg.past_limit_s)
        self.devices = DeviceCache()
        self.last: dict[int, Last] = {}
        self.store: MemoryStore = make_store(rt.settings.redis_url)
        self.writer = HistoryWriter(rt.engine, after_flush=self._after_flush)
        self._rt = rt
        self.counters: Counter[str] = Counter()
        self._counters_flushed: Counter[str] = Counter()
        self.pending_events: dict[int, Latest] = {}
        self.tasks = OpenTasks()
        self.arrival_backoff: dict[tuple[int, int], float] = {}
        self._network = _NetworkCache()
        self.tracker: Any = None  # the app's background side (lifecycle.Tracker), when running

    async def _after_flush(self, batch: list[Any]) -> None:
        from cityops.tracking import patrol_service

        await patrol_service.record_patrols(self._rt, self, batch)

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] += n

    async def flush_counters(self) -> None:
        """Add this process's new counts to the shared Redis hash (so the stats cover every process)."""
        redis = getattr(self.store, "redis", None)
        if redis is None:
            return
        delta = self.counters - self._counters_flushed
        if not delta:
            return
        async with redis.pipeline(transaction=False) as pipe:
            for k, v in delta.items():
                pipe.hincrby(COUNTERS_KEY, k, v)
            await pipe.execute()
        self._counters_flushed.update(delta)

    async def counter_totals(self) -> dict[str, int]:
        redis = getattr(self.store, "redis", None)
        if redis is None:
            return dict(self.counters)
        await self.flush_counters()
        raw = await redis.hgetall(COUNTERS_KEY)
        return {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in raw.items()}

    async def network(self, session: AsyncSession) -> RoadNetwork | None:
        """The street graph of the imported road segments (None when there are none); reloaded when they change."""
        c = self._network
        if time.monotonic() - c.checked_at < NETWORK_CHECK_S:
            return c.value
        sig = tuple((await session.execute(select(func.count(RoadSegment.id), func.max(RoadSegment.id)))).one())
        if sig != c.signature:
            from shapely import wkt

            segments = []
            for sid, text in (await session.execute(select(RoadSegment.id, RoadSegment.geometry_wkt))).all():
                geom = wkt.loads(text)
                for line in getattr(geom, "geoms", [geom]):
                    segments.append((sid, list(line.coords)))
            c.value = RoadNetwork(segments) if segments else None
            c.signature = sig
            c.targets.clear()
        c.checked_at = time.monotonic()
        return c.value

    def network_target(self, net: RoadNetwork, lat: float, lon: float) -> Any:
        """Dijkstra from a case's location, cached: a case is ranked again and again while it waits."""
        c = self._network
        key = (round(lat, 6), round(lon, 6))
        hit = c.targets.get(key)
        if hit is None:
            if len(c.targets) > 512:
                c.targets.clear()
            hit = c.targets[key] = net.distances_from(*net.project(lat, lon))
        return hit

    async def close(self) -> None:
        await self.store.close()


def state_of(rt: Runtime) -> TrackingState:
    st: TrackingState | None = getattr(rt, "_tracking_state", None)
    if st is None:
        st = TrackingState(rt)
        rt._tracking_state = st  # type: ignore[attr-defined]
    return st
