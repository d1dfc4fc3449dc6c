"""Position ingest, two ratios measured in one run.

    .venv/bin/python bench/ingest.py [--seconds 10] [--fixes 200000] [--pg postgresql://postgres@127.0.0.1:5432]

1. Single-fix OsmAnd reports (GET /api/v1/osmand?id=…&lat=…&lon=…, the Traccar Client way; 100 devices, server
   time) against the same server's hello-world (/healthz), both under wrk — goal ratio ≥ 0.6.
2. Batch ingest into PostgreSQL: JSON arrays of 2,000 fixes posted to /api/v1/tracking/positions/batch by two
   concurrent clients, timed until every row is in ``positions``, against a raw asyncpg COPY of the same rows
   into a copy of the same table — goal ratio ≥ 0.5 and ≥ 8,000 positions/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from _server import login, server, wrk

CENTER = (35.2300, 113.2400)
BATCH = 2000


def _api(base: str, token: str, method: str, path: str, body: object) -> object:
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(req))


def _register(base: str, token: str, prefix: str, n: int) -> None:
    for i in range(n):
        _api(base, token, "POST", "/api/v1/tracking/devices", {"identifier": f"{prefix}{i}", "name": f"bench {i}"})


def single_fix(seconds: int, connections: int) -> tuple[dict[str, float], dict[str, float]]:
    with server() as (base, _):
        _register(base, login(base, "admin"), "osm-", 100)
        # Each device keeps its place (no impossible jumps); no timestamp: the server's clock stamps the fix.
        script = (
            "counter = 0\n"
            "request = function()\n"
            "  counter = counter + 1\n"
            "  local d = counter % 100\n"
            f'  return wrk.format("GET", "/api/v1/osmand?id=osm-" .. d .. "&lat=" .. ({CENTER[0]} + d * 0.0001)'
            f' .. "&lon={CENTER[1]}&speed=1.2&bearing=90&accuracy=6&batt=80")\n'
            "end\n"
        )
        wrk(base + "/healthz", seconds=2, connections=connections)  # warm-up
        hello = wrk(base + "/healthz", seconds=seconds, connections=connections)
        osmand = wrk(base + "/api/v1/osmand", seconds=seconds, connections=connections, script=script)
    return hello, osmand


def _fixes(n: int, devices: int) -> list[dict[str, object]]:
    t0 = datetime.now(UTC) - timedelta(seconds=n // devices + 60)
    out = []
    for k in range(n):
        d, step = k % devices, k // devices
        out.append({"device_id": f"b-{d}", "lat": round(CENTER[0] + d * 1e-4 + step * 1e-6, 7),
                    "lon": round(CENTER[1] + step * 1e-6, 7), "at": (t0 + timedelta(seconds=step)).isoformat(),
                    "speed_mps": 1.3, "bearing": 45.0, "accuracy_m": 5.0, "battery": 80.0})
    return out


async def _reset(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(f"{admin_dsn}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _count(dsn: str, table: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


async def _post_all(base: str, token: str, bodies: list[bytes], clients: int) -> None:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as c:
            while not queue.empty():
                r = await c.post("/api/v1/tracking/positions/batch", content=queue.get_nowait(),
                                 headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
                r.raise_for_status()
                if r.json()["accepted"] != BATCH:
                    raise SystemExit(f"fixes refused: {r.text[:300]}")

    await asyncio.gather(*(worker() for _ in range(clients)))


async def _wait_rows(dsn: str, n: int, limit_s: float = 120) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.perf_counter() + limit_s
        while await conn.fetchval("SELECT count(*) FROM positions") < n:
            if time.perf_counter() > deadline:
                raise SystemExit("the history writer did not catch up")
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


async def _raw_copy(dsn: str, fixes: list[dict[str, object]]) -> float:
    """The baseline: the same rows as the writer makes them, COPYed straight into a twin of the table."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE IF EXISTS positions_copy; "
                           "CREATE TABLE positions_copy (LIKE positions INCLUDING ALL)")
        ids = {r["identifier"]: (r["id"], r["officer_id"]) for r in await conn.fetch(
            "SELECT id, identifier, officer_id FROM tracking_devices")}
        now = datetime.now(UTC)
        rows = [(ids[f["device_id"]][0], ids[f["device_id"]][1], datetime.fromisoformat(str(f["at"])), now, f["lat"],
                 f["lon"], f["speed_mps"], f["bearing"], None, f["accuracy_m"], f["battery"], None) for f in fixes]
        cols = ["device_id", "officer_id", "at", "received_at", "lat", "lon", "speed_mps", "bearing", "altitude",
                "accuracy_m", "battery", "attributes"]
        started = time.perf_counter()
        for k in range(0, len(rows), BATCH):
            await conn.copy_records_to_table("positions_copy", records=rows[k:k + BATCH], columns=cols)
        elapsed = time.perf_counter() - started
        await conn.execute("DROP TABLE positions_copy")
        return len(rows) / elapsed
    finally:
        await conn.close()


def batch_ingest(pg: str, n: int, devices: int = 1000, clients: int = 2) -> tuple[float, float]:
    name = "cityops_bench_ingest"
    asyncio.run(_reset(pg, name))
    dsn = f"{pg}/{name}"
    with server(f"postgresql+asyncpg://{pg.split('://', 1)[1]}/{name}") as (base, _):
        token = login(base, "admin")
        _register(base, token, "b-", devices)
        fixes = _fixes(n, devices)
        bodies = [json.dumps(fixes[k:k + BATCH]).encode() for k in range(0, n, BATCH)]
        warm = _fixes(BATCH, devices)  # a first batch (earlier times) warms the caches and the connection pool
        for f in warm:
            f["at"] = (datetime.fromisoformat(str(f["at"])) - timedelta(hours=1)).isoformat()
        asyncio.run(_post_all(base, token, [json.dumps(warm).encode()], 1))
        asyncio.run(_wait_rows(dsn, BATCH))
        started = time.perf_counter()
        asyncio.run(_post_all(base, token, bodies, clients))
        asyncio.run(_wait_rows(dsn, n + BATCH))
        ingest_rate = n / (time.perf_counter() - started)
        copy_rate = asyncio.run(_raw_copy(dsn, fixes))
    asyncio.run(_reset(pg, name))
    return ingest_rate, copy_rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--fixes", type=int, default=200_000)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="server (no database name)")
    ap.add_argument("--skip-single", action="store_true")
    ap.add_argument("--skip-batch", action="store_true")
    args = ap.parse_args()
    if not args.skip_single:
        hello, osmand = single_fix(args.seconds, args.connections)
        print(f"hello-world /healthz     {hello['rps']:9.0f} req/s   p99 {hello['p99_ms']:.1f} ms")
        print(f"OsmAnd single fix        {osmand['rps']:9.0f} fixes/s p99 {osmand['p99_ms']:.1f} ms  "
              f"non-2xx {osmand['non_2xx']:.0f}")
        print(f"ratio                    {osmand['rps'] / hello['rps']:9.3f}  (goal >= 0.6)")
    if not args.skip_batch:
        ingest_rate, copy_rate = batch_ingest(args.pg, args.fixes)
        print(f"raw COPY into positions  {copy_rate:9.0f} rows/s")
        print(f"batch ingest (HTTP→PG)   {ingest_rate:9.0f} positions/s  ({args.fixes} fixes, batches of {BATCH})")
        print(f"ratio                    {ingest_rate / copy_rate:9.3f}  (goal >= 0.5, and >= 8000 positions/s)")


if __name__ == "__main__":
    main()
