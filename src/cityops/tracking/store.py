"""Latest position per device: in memory, and in Redis GEO when ``CITYOPS_REDIS_URL`` is set so that several
server processes agree.

Writes to Redis are batched: the ingest path only updates memory and marks the device; :meth:`flush` (run by the
history writer's tick, ≤ 1 s) sends every marked device in one pipeline. A Lua script keeps the newest fix when
two processes race, so a late, older fix never overwrites a newer one. Reads of the whole fleet (map, dispatch)
come from Redis when it is configured — a process sees fixes other processes took in.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

log = logging.getLogger(__name__)

GEO_KEY = "cityops:trk:geo"  # GEO set: member = device id
LATEST_KEY = "cityops:trk:latest"  # hash: device id → JSON of Latest
AT_KEY = "cityops:trk:at"  # hash: device id → epoch ms of the stored fix (compare-and-set)

_PUT_NEWER = """
local cur = redis.call('HGET', KEYS[3], ARGV[1])
if cur and tonumber(cur) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
redis.call('GEOADD', KEYS[1], ARGV[3], ARGV[4], ARGV[1])
return 1
"""


@dataclass(slots=True)
class Latest:
    device_id: int
    officer_id: int | None
    lat: float
    lon: float
    at: datetime
    speed_mps: float | None = None
    bearing: float | None = None
    accuracy_m: float | None = None
    battery: float | None = None
    charging: bool | None = None
    alarm: str | None = None

    def to_json(self) -> str:
        d = asdict(self)
        d["at"] = self.at.timestamp()
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Latest:
        d: dict[str, Any] = json.loads(raw)
        d["at"] = datetime.fromtimestamp(d["at"], UTC)
        return cls(**d)


class MemoryStore:
    """One process's view; also the write-behind buffer of :class:`RedisGeoStore`."""

    def __init__(self) -> None:
        self.latest: dict[int, Latest] = {}

    def put(self, fix: Latest) -> bool:
        """Keep ``fix`` if it is newer than what the device has; True when it was kept."""
        cur = self.latest.get(fix.device_id)
        if cur is not None and cur.at >= fix.at:
            return False
        self.latest[fix.device_id] = fix
        return True

    def local(self, device_id: int) -> Latest | None:
        return self.latest.get(device_id)

    async def get(self, device_id: int) -> Latest | None:
        return self.latest.get(device_id)

    async def all(self) -> list[Latest]:
        return list(self.latest.values())

    async def get_many(self, device_ids: list[int]) -> dict[int, Latest]:
        return {d: f for d in device_ids if (f := self.latest.get(d)) is not None}

    async def flush(self) -> None:
        return None

    async def forget(self, device_id: int) -> None:
        self.latest.pop(device_id, None)

    async def close(self) -> None:
        return None


class RedisGeoStore(MemoryStore):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.redis: Redis = Redis.from_url(url)
        self._dirty: dict[int, Latest] = {}
        self._script = self.redis.register_script(_PUT_NEWER)

    def put(self, fix: Latest) -> bool:
        kept = super().put(fix)
        if kept:
            self._dirty[fix.device_id] = fix
        return kept

    async def flush(self) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for fix in dirty.values():
                    await self._script(keys=[GEO_KEY, LATEST_KEY, AT_KEY],
                                       args=[fix.device_id, int(fix.at.timestamp() * 1000), fix.lon, fix.lat,
                                             fix.to_json()], client=pipe)
                await pipe.execute()
        except Exception:
            # Keep what failed for the next tick, unless newer fixes of the same devices arrived meanwhile.
            for k, v in dirty.items():
                self._dirty.setdefault(k, v)
            raise

    async def get(self, device_id: int) -> Latest | None:
        raw = await self.redis.hget(LATEST_KEY, str(device_id))
        remote = Latest.from_json(raw) if raw else None
        mine = self.latest.get(device_id)
        if remote is None or (mine is not None and mine.at > remote.at):
            return mine
        return remote

    async def get_many(self, device_ids: list[int]) -> dict[int, Latest]:
        """One HMGET for many devices (the dispatch view asks for a whole department at once)."""
        if not device_ids:
            return {}
        raws = await self.redis.hmget(LATEST_KEY, [str(d) for d in device_ids])
        out: dict[int, Latest] = {}
        for d, raw in zip(device_ids, raws, strict=True):
            remote = Latest.from_json(raw) if raw else None
            mine = self.latest.get(d)
            best = mine if remote is None or (mine is not None and mine.at > remote.at) else remote
            if best is not None:
                out[d] = best
        return out

    async def all(self) -> list[Latest]:
        merged = {int(k): Latest.from_json(v) for k, v in (await self.redis.hgetall(LATEST_KEY)).items()}
        for device_id, mine in self.latest.items():  # not flushed yet
            cur = merged.get(device_id)
            if cur is None or mine.at > cur.at:
                merged[device_id] = mine
        return list(merged.values())

    async def near(self, lat: float, lon: float, radius_m: float) -> list[tuple[int, float]]:
        """(device id, metres) within ``radius_m``, nearest first — Redis GEOSEARCH."""
        rows = await self.redis.geosearch(GEO_KEY, longitude=lon, latitude=lat, radius=radius_m, unit="m",
                                          sort="ASC", withdist=True)
        return [(int(row[0]), float(row[1])) for row in rows]  # type: ignore[arg-type]

    async def forget(self, device_id: int) -> None:
        await super().forget(device_id)
        self._dirty.pop(device_id, None)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(GEO_KEY, str(device_id))
            pipe.hdel(LATEST_KEY, str(device_id))
            pipe.hdel(AT_KEY, str(device_id))
            await pipe.execute()

    async def close(self) -> None:
        await self.redis.aclose()


def make_store(redis_url: str | None) -> MemoryStore:
    return RedisGeoStore(redis_url) if redis_url else MemoryStore()
