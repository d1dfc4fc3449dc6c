"""`cityops simulate`: officers move along the road network and report like Traccar Client, over HTTP only.

Everything goes through the public API, as a real fleet would: the admin registers a device per officer, each
officer signs on (上岗) and posts fixes to ``/api/v1/osmand`` in the query format. With ``act`` on, an officer
also works their tasks like the field app: accepts (接单) and sets off (出发), walks the shortest street path to
the case — the server detects the arrival (到场) from the fixes — stays a while, then handles (处置) and feeds
back (反馈). Without a task an officer wanders the streets.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import numpy as np

from cityops.db import utcnow
from cityops.tracking.roadnet import RoadNetwork

log = logging.getLogger(__name__)
MODES = (("vehicle", "car"), ("phone", "bike"), ("phone", "walk"))
SPEEDS = {"walk": 1.4, "bike": 4.2, "car": 8.3}
DWELL_S = 90.0  # on scene before handling
TASK_REFRESH_S = 5.0
WORKING = ("dispatched", "accepted", "en_route", "on_scene")


@dataclass
class SimOfficer:
    user_id: int
    username: str
    token: str
    identifier: str
    mode: str
    node: int
    nxt: int
    along: float = 0.0
    came_from: int = -1
    task: dict[str, Any] | None = None
    target: tuple[float, float] | None = None  # projected metres of the case
    target_dist: np.ndarray | None = None
    target_nodes: tuple[int, int] = (-1, -1)
    final_leg: bool = False
    xy: tuple[float, float] = (0.0, 0.0)
    on_scene_since: float | None = None
    busy_until: float = 0.0
    sent: int = field(default=0)


class Simulation:
    def __init__(self, client: httpx.AsyncClient, net: RoadNetwork, officers: list[SimOfficer], *,
                 rng: random.Random, act: bool = True, speedup: float = 1.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.client, self.net, self.officers, self.rng = client, net, officers, rng
        self.act, self.speedup, self.clock = act, speedup, clock
        self.last_refresh = -1e9
        for o in officers:
            o.xy = (float(net.nodes[o.node][0]), float(net.nodes[o.node][1]))

    # ---- movement on the graph -------------------------------------------------------------------------------

    def _edge_len(self, a: int, b: int) -> float:
        return float(np.hypot(*(self.net.nodes[b] - self.net.nodes[a])))

    def _choose(self, o: SimOfficer) -> int:
        options = [m for m, _ in self.net.adj[o.node]]
        dist = o.target_dist
        if dist is not None:
            return min(options, key=lambda m: (self._edge_len(o.node, m) + float(dist[m]), m))
        fresh = [m for m in options if m != o.came_from]
        return self.rng.choice(fresh or options)

    def move(self, o: SimOfficer, dt: float) -> None:
        step = SPEEDS[o.mode] * dt * self.speedup
        if o.on_scene_since is not None:
            return
        if o.final_leg and o.target is not None:
            dx, dy = o.target[0] - o.xy[0], o.target[1] - o.xy[1]
            d = math.hypot(dx, dy)
            f = min(1.0, step / d) if d > 0 else 1.0
            o.xy = (o.xy[0] + dx * f, o.xy[1] + dy * f)
            return
        while step > 0:
            if o.target_dist is not None and o.node in o.target_nodes:
                o.final_leg = True  # on the case's street: walk straight to it
                self.move(o, step / max(SPEEDS[o.mode] * self.speedup, 1e-9))
                return
            length = self._edge_len(o.node, o.nxt)
            if o.along + step < length:
                o.along += step
                step = 0
            else:
                step -= length - o.along
                o.came_from, o.node, o.along = o.node, o.nxt, 0.0
                o.nxt = self._choose(o)
        a, b = self.net.nodes[o.node], self.net.nodes[o.nxt]
        length = self._edge_len(o.node, o.nxt) or 1.0
        o.xy = (float(a[0] + (b[0] - a[0]) * o.along / length), float(a[1] + (b[1] - a[1]) * o.along / length))

    def latlon(self, o: SimOfficer) -> tuple[float, float]:
        return o.xy[1] / self.net.ky, o.xy[0] / self.net.kx

    # ---- the field app's part ------------------------------------------------------------------------------------

    async def _post_action(self, o: SimOfficer, case_id: int, action: str, **params: Any) -> bool:
        r = await self.client.post(f"/api/v1/cases/{case_id}/actions", json={"action": action, **params},
                                   headers={"Authorization": f"Bearer {o.token}"})
        if r.status_code != 200:
            log.info("%s could not %s case %s: %s", o.username, action, case_id, r.text[:200])
        return r.status_code == 200

    def _head_for(self, o: SimOfficer, case: dict[str, Any]) -> None:
        x, y = self.net.project(case["lat"], case["lon"])
        dist, snap = self.net.distances_from(x, y)
        o.target, o.target_dist = (x, y), dist
        o.target_nodes = (int(snap.u[0]), int(snap.v[0]))
        o.final_leg = False
        o.nxt = self._choose(o) if o.along == 0 else o.nxt

    def _wander(self, o: SimOfficer) -> None:
        o.task = o.target = o.target_dist = None
        o.final_leg, o.on_scene_since, o.target_nodes = False, None, (-1, -1)
        if o.along == 0:
            o.nxt = self._choose(o)

    async def refresh_tasks(self, now_s: float) -> None:
        for o in self.officers:
            r = await self.client.get("/api/v1/cases", params=[("officer_id", o.user_id), *[
                ("status", s) for s in WORKING]], headers={"Authorization": f"Bearer {o.token}"})
            items = r.json().get("items", []) if r.status_code == 200 else []
            case = min(items, key=lambda c: c["id"]) if items else None
            if case is None:
                if o.task is not None:
                    self._wander(o)
                continue
            if o.task is None or o.task["id"] != case["id"]:
                o.task, o.on_scene_since = case, None
                self._head_for(o, case)
            o.task = case
            if not self.act:
                continue
            if case["status"] == "dispatched":
                await self._post_action(o, case["id"], "accept")
            elif case["status"] == "accepted":
                await self._post_action(o, case["id"], "depart")
            elif case["status"] == "on_scene":
                if o.on_scene_since is None:
                    o.on_scene_since = now_s
                elif now_s - o.on_scene_since >= DWELL_S / self.speedup:
                    lat, lon = self.latlon(o)
                    if await self._post_action(o, case["id"], "handle", lat=lat, lon=lon, handling={
                            "measure": "on_the_spot_fix", "note": "模拟处置：已现场整改"}):
                        await self._post_action(o, case["id"], "feed_back", note="处置完成（模拟）")
                        self._wander(o)

    async def report(self, o: SimOfficer, now: datetime) -> int:
        lat, lon = self.latlon(o)
        moving = o.on_scene_since is None
        params = {"id": o.identifier, "timestamp": str(int(now.timestamp())), "lat": f"{lat:.7f}",
                  "lon": f"{lon:.7f}", "speed": f"{SPEEDS[o.mode] * self.speedup / 0.514444 if moving else 0:.2f}",
                  "accuracy": "5", "batt": str(max(20, 100 - o.sent // 60))}
        r = await self.client.get("/api/v1/osmand", params=params)
        o.sent += 1
        return r.status_code

    async def step(self, dt: float) -> list[int]:
        now = self.clock()
        now_s = now.timestamp()
        if now_s - self.last_refresh >= TASK_REFRESH_S:
            self.last_refresh = now_s
            await self.refresh_tasks(now_s)
        for o in self.officers:
            self.move(o, dt)
        return [await self.report(o, now) for o in self.officers]


# ---- setting up over the API -------------------------------------------------------------------------------------

async def _login(client: httpx.AsyncClient, username: str, password: str) -> str | None:
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    return str(r.json()["access_token"]) if r.status_code == 200 else None


async def road_network(client: httpx.AsyncClient) -> RoadNetwork:
    r = await client.get("/api/v1/geo/layers/road")
    r.raise_for_status()
    segments = []
    for f in r.json()["features"]:
        g = f["geometry"]
        lines = g["coordinates"] if g["type"] == "MultiLineString" else [g["coordinates"]]
        segments += [(int(f["id"]), [tuple(c[:2]) for c in line]) for line in lines]
    net = RoadNetwork(segments)
    if net.is_empty:
        raise RuntimeError("no road segments: import roads first (`cityops demo` does)")
    return net


async def prepare(client: httpx.AsyncClient, *, officers: int, password: str, admin: str = "admin",
                  rng: random.Random, net: RoadNetwork) -> list[SimOfficer]:
    """Sign the officers in and on duty, with a device each (registered once, reused on the next run)."""
    admin_token = await _login(client, admin, password)
    if admin_token is None:
        raise RuntimeError(f"cannot sign in as {admin!r}: pass --password")
    ah = {"Authorization": f"Bearer {admin_token}"}
    users = [u for u in (await client.get("/api/v1/users", params={"role": "officer"}, headers=ah)).json()
             if u["is_active"] and u["department_id"] is not None]
    depts = sorted({u["department_id"] for u in users})
    n_extra = max(0, officers - len(users))
    for k in range(n_extra):  # more officers than the demo has: add simulated ones to its departments
        body = {"username": f"sim_officer{len(users) + 1:03d}", "password": password, "display_name":
                f"模拟队员{len(users) + 1}", "roles": ["officer"], "department_id": depts[k % len(depts)]}
        r = await client.post("/api/v1/users", json=body, headers=ah)
        if r.status_code == 201:
            users.append(r.json())
    devices = {d["identifier"]: d for d in (await client.get("/api/v1/tracking/devices", headers=ah)).json()}
    out: list[SimOfficer] = []
    for i, u in enumerate(sorted(users, key=lambda u: u["id"])[:officers]):
        token = await _login(client, u["username"], password)
        if token is None:
            log.warning("skipping %s: cannot sign in with the given password", u["username"])
            continue
        kind, mode = MODES[i % len(MODES)]
        identifier = f"sim-{u['username']}"
        if identifier not in devices:
            await client.post("/api/v1/tracking/devices", headers=ah, json={
                "identifier": identifier, "kind": kind, "name": f"{u['display_name']} {kind}",
                "officer_id": u["id"], "mode": mode})
        await client.put(f"/api/v1/tracking/officers/{u['id']}/duty", json={"duty": "on_duty"},
                         headers={"Authorization": f"Bearer {token}"})
        node = rng.randrange(len(net.nodes))
        nxt = rng.choice([m for m, _ in net.adj[node]]) if net.adj[node] else node
        out.append(SimOfficer(u["id"], u["username"], token, identifier, mode, node, nxt))
    return out


async def run(url: str, *, officers: int, interval: float, speedup: float, password: str, act: bool, seed: int,
              wait: float = 60.0, steps: int | None = None) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as client:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            try:
                if (await client.get("/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if loop.time() > deadline:
                raise RuntimeError(f"no cityops server answers at {url}")
            await asyncio.sleep(0.5)
        rng = random.Random(seed)
        net = await road_network(client)
        sim = Simulation(client, net, await prepare(client, officers=officers, password=password, rng=rng, net=net),
                         rng=rng, act=act, speedup=speedup)
        log.warning("simulating %d officers on %d road nodes, a fix each every %.1f s", len(sim.officers),
                    len(net.nodes), interval)
        done = 0
        while steps is None or done < steps:
            started = loop.time()
            codes = await sim.step(interval)
            bad = [c for c in codes if c != 200]
            if bad:
                log.warning("%d of %d fixes refused (HTTP %s)", len(bad), len(codes), sorted(set(bad)))
            done += 1
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))
