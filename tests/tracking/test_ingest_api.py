"""OsmAnd ingest over HTTP, replaying Traccar Client's two wire formats byte for byte, and the bad input a public
port receives: every refusal has its status, is counted, and stores nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from trk import Clock, register, report, settle, stats

from cityops.runtime import Runtime
from cityops.tracking.models import Position
from support import World


async def _stored(rt: Runtime) -> list[Position]:
    await settle(rt)
    async with rt.sessionmaker() as s:
        return list((await s.execute(select(Position).order_by(Position.id))).scalars())


async def _count(rt: Runtime) -> int:
    await settle(rt)
    async with rt.sessionmaker() as s:
        return int(await s.scalar(select(func.count(Position.id))) or 0)


async def test_traccar_client_query_format_byte_for_byte(tc: httpx.AsyncClient, world: World, rt: Runtime,
                                                         clock: Clock) -> None:
    w = world
    await register(tc, w, "862104051234567", "officer")
    t = int(clock.now.timestamp()) - 5
    # Traccar Client (Android ≤ 8) posts the fix in the query string with an empty body.
    raw = (f"/api/v1/osmand?id=862104051234567&timestamp={t}&lat=35.0051&lon=113.0049&speed=9.719222"
           "&bearing=271.5&altitude=102.3&accuracy=8.0&batt=76.0&charge=true")
    r = await tc.post(raw, content=b"")
    assert r.status_code == 200 and r.content == b""
    [p] = await _stored(rt)
    assert (p.lat, p.lon, p.at) == (35.0051, 113.0049, datetime.fromtimestamp(t, UTC))
    assert abs(p.speed_mps - 5.0) < 1e-3  # 9.719222 knots = 5.000 m/s
    assert (p.bearing, p.altitude, p.accuracy_m, p.battery) == (271.5, 102.3, 8.0, 76.0)
    assert p.officer_id == w.users["officer"] and p.attributes == {"charge": True}


async def test_traccar_client_json_format_byte_for_byte(tc: httpx.AsyncClient, world: World, rt: Runtime,
                                                        clock: Clock) -> None:
    w = world
    await register(tc, w, "733021", "officer2")
    ts = (clock.now - timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S.250Z")
    body = ('{"location":{"event":"motionchange","is_moving":true,"uuid":"5c4f-8d2e","timestamp":"' + ts + '",'
            '"odometer":1834.5,"coords":{"latitude":35.0123456,"longitude":113.0098765,"accuracy":4.8,'
            '"speed":1.35,"speed_accuracy":0.5,"heading":87.4,"heading_accuracy":12,"altitude":99.6,'
            '"ellipsoidal_altitude":99.6,"altitude_accuracy":3.1},"activity":{"type":"walking","confidence":100},'
            '"battery":{"is_charging":false,"level":0.64},"extras":{}},"device_id":"733021"}').encode()
    r = await tc.post("/api/v1/osmand", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    [p] = await _stored(rt)
    assert (p.lat, p.lon, p.speed_mps, p.bearing, p.altitude, p.accuracy_m) == (
        35.0123456, 113.0098765, 1.35, 87.4, 99.6, 4.8)  # JSON speed is m/s already
    assert p.battery == 64.0 and p.at == datetime.fromisoformat(ts)
    assert p.attributes == {"is_moving": True, "odometer": 1834.5, "event": "motionchange", "activity": "walking",
                            "charge": False}


async def test_other_query_spellings(tc: httpx.AsyncClient, world: World, rt: Runtime, clock: Clock) -> None:
    w = world
    await register(tc, w, "dev-a", "officer")
    base = clock.now - timedelta(minutes=10)
    variants = [
        # GET with deviceid + location=lat,lon and epoch milliseconds
        ("GET", f"deviceid=dev-a&location=35.0001,113.0001&timestamp={int(base.timestamp() * 1000)}"),
        # ISO 8601
        ("GET", f"id=dev-a&lat=35.0002&lon=113.0002&timestamp={(base + timedelta(seconds=10)).isoformat()}"),
        # yyyy-MM-dd HH:mm:ss (UTC)
        ("GET", f"id=dev-a&lat=35.0003&lon=113.0003&timestamp="
                f"{(base + timedelta(seconds=20)).strftime('%Y-%m-%d %H:%M:%S')}"),
        # form body, heading instead of bearing, an alarm and an unknown key kept as attribute
        ("FORM", f"id=dev-a&lat=35.0004&lon=113.0004&timestamp={int(base.timestamp()) + 30}&heading=45"
                 "&alarm=sos&hdop=1.2&driverUniqueId=A17"),
    ]
    for method, query in variants:
        if method == "GET":
            r = await tc.get(f"/api/v1/osmand?{query.replace(' ', '%20').replace('+', '%2B')}")
        else:
            r = await tc.post("/api/v1/osmand", content=query.encode(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200, (query, r.text)
    rows = await _stored(rt)
    assert [(p.lat, (p.at - base).total_seconds()) for p in rows] == [
        (35.0001, 0.0), (35.0002, 10.0), (35.0003, 20.0), (35.0004, 30.0)]
    assert rows[3].bearing == 45.0
    assert rows[3].attributes == {"hdop": 1.2, "driverUniqueId": "A17", "alarm": "sos"}


async def test_missing_fix_reuses_last_location_and_missing_time_is_server_time(
        tc: httpx.AsyncClient, world: World, rt: Runtime, clock: Clock) -> None:
    w = world
    await register(tc, w, "dev-b", "officer")
    r = await tc.get("/api/v1/osmand?id=dev-b&batt=50")  # no fix yet, nothing to reuse: dropped, still 200
    assert r.status_code == 200
    await report(tc, "dev-b", 35.001, 113.002, clock.now - timedelta(seconds=30))
    r = await tc.get("/api/v1/osmand?id=dev-b&batt=49")  # no lat/lon, no timestamp
    assert r.status_code == 200
    rows = await _stored(rt)
    assert [(p.lat, p.lon, p.at, p.battery) for p in rows][1] == (35.001, 113.002, clock.now, 49.0)
    assert rows[1].attributes == {"outdated": True}
    assert (await stats(tc, w))["dropped"] == {"no_fix": 1}


async def test_unknown_device_is_400_in_query_and_404_in_json(tc: httpx.AsyncClient, world: World,
                                                               rt: Runtime) -> None:
    r = await tc.get("/api/v1/osmand?id=nobody&lat=35&lon=113")
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_device"
    r = await tc.post("/api/v1/osmand", json={"device_id": "nobody", "location": {
        "timestamp": "2026-01-01T00:00:00Z", "coords": {"latitude": 35.0, "longitude": 113.0}}})
    assert r.status_code == 404 and r.json()["error"]["field"] == "id"
    assert (await stats(tc, world))["rejected"] == {"unknown_device": 2}
    assert await _count(rt) == 0


async def test_bad_input_is_refused_counted_and_never_stored(tc: httpx.AsyncClient, world: World, rt: Runtime,
                                                              clock: Clock) -> None:
    w = world
    await register(tc, w, "dev-c", "officer")
    t = int(clock.now.timestamp())
    cases = [
        (f"id=dev-c&lat=abc&lon=113&timestamp={t}", 400, "malformed", "lat"),
        (f"id=dev-c&lat=NaN&lon=113&timestamp={t}", 400, "malformed", "lat"),
        (f"id=dev-c&lat=1_000&lon=113&timestamp={t}", 400, "malformed", "lat"),
        (f"id=dev-c&lat=95&lon=113&timestamp={t}", 400, "out_of_range", "lat"),
        (f"id=dev-c&lat=35&lon=-181&timestamp={t}", 400, "out_of_range", "lon"),
        ("id=dev-c&lat=35&lon=113&timestamp=0", 400, "out_of_range", "timestamp"),
        ("id=dev-c&lat=35&lon=113&timestamp=99999999999999999", 400, "out_of_range", "timestamp"),
        ("id=dev-c&lat=35&lon=113&timestamp=yesterday", 400, "malformed", "timestamp"),
        ("lat=35&lon=113", 400, "malformed", "id"),
        (f"id=dev-c&lat=35&lon=113&timestamp={t}&speed=-3", 400, "out_of_range", "speed"),
    ]
    for query, status, code, field in cases:
        r = await tc.get(f"/api/v1/osmand?{query}")
        assert r.status_code == status, (query, r.text)
        assert r.json()["error"]["code"] == code and r.json()["error"]["field"] == field, (query, r.json())
    r = await tc.post("/api/v1/osmand", content=b'{"device_id": "dev-c", "location": {"coords": {"latitude": NaN',
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = await tc.post("/api/v1/osmand", json={"device_id": "dev-c", "location": {"coords": {
        "latitude": True, "longitude": 113.0}}})
    assert r.status_code == 400 and r.json()["error"]["field"] == "location.coords.latitude"
    r = await tc.post("/api/v1/osmand", content=b"x" * (10 * 1024 * 1024))  # 10 MB
    assert r.status_code == 413
    counted = (await stats(tc, w))["rejected"]
    assert counted == {"malformed": 7, "out_of_range": 5, "too_large": 1}
    assert await _count(rt) == 0


async def test_filters_drop_and_count_per_reason(tc: httpx.AsyncClient, world: World, rt: Runtime,
                                                 clock: Clock) -> None:
    w = world
    await register(tc, w, "dev-d", "officer")
    t0 = clock.now - timedelta(minutes=5)
    await report(tc, "dev-d", 35.0050, 113.0050, t0)
    await report(tc, "dev-d", 35.0050, 113.0050, t0)  # same time again: duplicate
    await report(tc, "dev-d", 35.0060, 113.0050, t0 + timedelta(seconds=10), accuracy=250)  # worse than 100 m
    # 0.05° of latitude (≈ 5.6 km) in 10 s is 556 m/s: an impossible jump
    await report(tc, "dev-d", 35.0550, 113.0050, t0 + timedelta(seconds=10))
    await report(tc, "dev-d", 35.0051, 113.0050, clock.now + timedelta(hours=1))  # from the future
    await report(tc, "dev-d", 35.0051, 113.0050, clock.now - timedelta(days=3))  # older than 2 days
    await report(tc, "dev-d", 35.0052, 113.0050, t0 + timedelta(seconds=20), valid="false")
    await report(tc, "dev-d", 35.0053, 113.0051, t0 + timedelta(seconds=30))  # 11 m in 30 s: fine
    rows = await _stored(rt)
    assert [p.lat for p in rows] == [35.0050, 35.0053]
    s = await stats(tc, w)
    assert s["accepted"] == 2
    assert s["dropped"] == {"duplicate": 1, "accuracy": 1, "speed": 1, "future": 1, "past": 1, "invalid": 1}


async def test_device_tokens(tc: httpx.AsyncClient, world: World, rt: Runtime, clock: Clock) -> None:
    w = world
    await register(tc, w, "dev-e", "officer")
    await register(tc, w, "dev-f", "officer2", require_token=True)
    r = await tc.post(f"/api/v1/users/{w.users['officer']}/device-tokens", json={"label": "phone"},
                      headers=w.h("admin"))
    token = r.json()["access_token"]
    t = int(clock.now.timestamp())
    # officer's device token for officer's device: fine; for officer2's device: 403
    r = await tc.get(f"/api/v1/osmand?id=dev-e&lat=35.001&lon=113.001&timestamp={t}",
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    r = await tc.get(f"/api/v1/osmand?id=dev-f&lat=35.001&lon=113.001&timestamp={t}&token={token}")
    assert r.status_code == 403
    r = await tc.get(f"/api/v1/osmand?id=dev-f&lat=35.001&lon=113.001&timestamp={t}")  # needs a token
    assert r.status_code == 401
    r = await tc.get(f"/api/v1/osmand?id=dev-e&lat=35.001&lon=113.001&timestamp={t}",
                     headers={"Authorization": "Bearer cty_forged"})
    assert r.status_code == 401
    assert (await stats(tc, w))["rejected"] == {"bad_token": 3}
    assert [p.device_id for p in await _stored(rt)] == [1]


async def test_batch_ndjson_and_array(tc: httpx.AsyncClient, world: World, rt: Runtime, clock: Clock) -> None:
    w = world
    await register(tc, w, "dev-g", "officer")
    t0 = clock.now - timedelta(minutes=1)
    lines = [json.dumps({"device_id": "dev-g", "lat": 35.001 + i * 1e-4, "lon": 113.001,
                         "at": (t0 + timedelta(seconds=5 * i)).isoformat(), "speed_mps": 2.0}) for i in range(3)]
    lines.append(json.dumps({"device_id": "dev-g", "lat": "x", "lon": 113.0}))
    lines.append(json.dumps({"device_id": "ghost", "lat": 35.0, "lon": 113.0}))
    r = await tc.post("/api/v1/tracking/positions/batch", content="\n".join(lines).encode(),
                      headers={**w.h("admin"), "Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["rejected"]) == (3, {"malformed": 1, "unknown_device": 1})
    assert out["errors"] == [{"index": 3, "field": "[3].lat", "message": "[3].lat must be a number"}]
    # The officer's own session may post for their device as a JSON array (also in the Traccar JSON shape).
    r = await tc.post("/api/v1/tracking/positions/batch", headers=w.h("officer"), json=[
        {"device_id": "dev-g", "location": {"timestamp": (t0 + timedelta(seconds=30)).isoformat(),
                                            "coords": {"latitude": 35.0015, "longitude": 113.001}}}])
    assert r.json()["accepted"] == 1
    r = await tc.post("/api/v1/tracking/positions/batch", headers=w.h("officer2"), json=[
        {"device_id": "dev-g", "lat": 35.0, "lon": 113.0}])
    assert r.json()["rejected"] == {"bad_token": 1}
    assert len(await _stored(rt)) == 4


async def test_signed_in_officer_phone_registers_itself(tc: httpx.AsyncClient, world: World, rt: Runtime,
                                                       clock: Clock) -> None:
    """The field app reports as ``web-<user id>`` with the officer's session: that phone becomes theirs; an
    anonymous report from an unknown phone stays refused, and an admin's batch never registers anything."""
    w = world
    body = [{"device_id": "web-9", "lat": 35.002, "lon": 113.002, "at": clock.now.isoformat()}]
    r = await tc.post("/api/v1/tracking/positions/batch", json=body, headers=w.h("officer"))
    assert r.json()["accepted"] == 1
    r = await tc.get("/api/v1/tracking/devices", params={"officer_id": w.users["officer"]}, headers=w.h("admin"))
    assert [(d["identifier"], d["kind"], d["mode"]) for d in r.json()] == [("web-9", "phone", "walk")]
    r = await tc.post("/api/v1/tracking/positions/batch", json=body, headers=w.h("officer2"))  # not theirs
    assert r.json()["rejected"] == {"bad_token": 1}
    r = await tc.get("/api/v1/osmand?id=web-77&lat=35&lon=113")
    assert r.status_code == 400
    r = await tc.post("/api/v1/tracking/positions/batch", json=[{**body[0], "device_id": "gw-1"}],
                      headers=w.h("admin"))
    assert r.json()["rejected"] == {"unknown_device": 1}
