"""Live fan-out: N WebSocket consoles subscribed to `cases`, events made at R per second; delivery latency.

    .venv/bin/python bench/fanout.py [--consoles 500] [--rate 100] [--seconds 10]

Latency of one delivery = time a console receives the event − the hub's publish stamp `ts` (after the commit;
same machine, same clock). Baseline in the same run: one console at the same event rate. Goal:
p99 ≤ 100 ms with 500 consoles at 100 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time

import httpx
import websockets
from _server import login, server

TS = re.compile(r'"ts": ?([0-9.]+)')


async def console(url: str, token: str, latencies: list[float], ready: asyncio.Event, counter: list[int],
                  stop: asyncio.Event) -> None:
    async with websockets.connect(url, max_queue=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "topics": ["cases"]}))
        await ws.recv()  # snapshot
        counter[0] += 1
        if counter[0] == counter[1]:
            ready.set()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            now = time.time()
            # Only the publish stamps are needed; a regex keeps the load generator cheap (it shares the cores).
            latencies.extend(now - float(ts) for ts in TS.findall(raw))


async def run(base: str, token: str, consoles: int, rate: float, seconds: float) -> list[float]:
    url = base.replace("http://", "ws://") + "/api/v1/ws"
    latencies: list[float] = []
    ready, stop = asyncio.Event(), asyncio.Event()
    counter = [0, consoles]
    tasks = [asyncio.create_task(console(url, token, latencies, ready, counter, stop)) for _ in range(consoles)]
    await asyncio.wait_for(ready.wait(), 120)
    body = {"lat": 35.23, "lon": 113.24, "category_code": "06010", "description": "fanout bench"}
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        start = time.monotonic()
        n = 0
        posts = []
        while time.monotonic() - start < seconds:
            posts.append(asyncio.create_task(http.post("/api/v1/cases", json=body)))
            n += 1
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        await asyncio.gather(*posts)
    await asyncio.sleep(2)  # let the last deliveries arrive
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return latencies


def pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--consoles", type=int, default=500)
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    # Each run on a fresh server with the same demo data, so both start from the same open cases.
    with server() as (base, _):
        base_lat = asyncio.run(run(base, login(base, "dispatcher"), 1, args.rate, args.seconds))
    with server() as (base, _):
        lat = asyncio.run(run(base, login(base, "dispatcher"), args.consoles, args.rate, args.seconds))
    expected = args.consoles * args.rate * args.seconds
    print(f"baseline 1 console     p50 {pct(base_lat, 50) * 1000:7.1f} ms  p99 {pct(base_lat, 99) * 1000:7.1f} ms"
          f"  deliveries {len(base_lat)}")
    print(f"{args.consoles} consoles           p50 {pct(lat, 50) * 1000:7.1f} ms"
          f"  p99 {pct(lat, 99) * 1000:7.1f} ms"
          f"  deliveries {len(lat)} of ~{expected:.0f}")
    print(f"p99 ratio (N consoles ÷ 1)  {pct(lat, 99) / pct(base_lat, 99):.2f}   goal: p99 ≤ 100 ms")


if __name__ == "__main__":
    main()
