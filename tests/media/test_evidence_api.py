"""Evidence on cases: attach with a role, capture data (EXIF, container tags), disagreement flags, the timeline,
who sees what (staff, the reporting resident, the public map), downloads with Range, and the chain of custody."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from PIL import Image

from cityops.audit import service as audit_service
from cityops.runtime import Runtime
from media.helpers import attach, jpeg, mp4, sha, stored_files, upload, wav
from support import World, act, new_case

SHANGHAI = ZoneInfo("Asia/Shanghai")


def exif_time(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).strftime("%Y:%m:%d %H:%M:%S")


async def _dispatched_case(client: httpx.AsyncClient, w: World) -> dict[str, Any]:
    case = await new_case(client, w)
    await act(client, w, case["id"], "shiftlead", "file")
    await act(client, w, case["id"], "dispatcher", "dispatch", department_id=w.departments["enforcement"],
              officer_id=w.users["officer"])
    return case


async def test_officer_attaches_a_photo_and_the_timeline_names_it(client: httpx.AsyncClient, world: World,
                                                                  rt: Runtime) -> None:
    w = world
    case = await _dispatched_case(client, w)
    taken = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    data = jpeg(taken=exif_time(taken), offset="+08:00", gps=(35.0051, 113.0049))
    up = await upload(client, w, "officer", data, filename="before.jpg")
    events = rt.bus.subscribe()

    ev = await attach(client, w, "officer", case["id"], up["id"], "before", device_time=taken.isoformat(),
                      lat=35.0050, lon=113.0050)
    assert (ev["role"], ev["kind"], ev["mime"], ev["sha256"], ev["size"]) == ("before", "image", "image/jpeg",
                                                                             sha(data), len(data))
    assert ev["flags"] == []  # EXIF and device agree with the case: ~10 m apart, 5 minutes before now
    assert datetime.fromisoformat(ev["captured_at"]) == taken
    assert (round(ev["captured_lat"], 4), round(ev["captured_lon"], 4)) == (35.0051, 113.0049)
    assert (ev["width"], ev["height"], ev["filename"]) == (640, 480, "before.jpg")
    assert {d["kind"]: (d["width"], d["height"]) for d in ev["derivatives"]} == {"preview": (640, 480),
                                                                                  "thumb": (320, 240)}

    detail = (await client.get(f"/api/v1/cases/{case['id']}", headers=w.h("dispatcher"))).json()
    last = detail["timeline"][-1]
    assert (last["action"], last["attachments"], last["to_status"]) == ("attach_evidence", [str(ev["id"])],
                                                                        "dispatched")
    assert last["data"]["role"] == "before"
    got = events.get_nowait()
    assert (got.type, got.evidence_id, got.case_id) == ("evidence.attached", ev["id"], case["id"])
    assert w.users["officer"] in got.audience.user_ids


async def test_disagreements_with_the_case_are_flagged(client: httpx.AsyncClient, world: World) -> None:
    w = world
    case = await new_case(client, w, who="inspector")
    old = datetime.now(UTC) - timedelta(days=3)
    # EXIF: 0.015° north of the case (≈1.67 km) and three days old, written without a zone (read as Beijing time).
    data = jpeg(taken=exif_time(old), gps=(35.0200, 113.0050))
    up = await upload(client, w, "inspector", data)
    ev = await attach(client, w, "inspector", case["id"], up["id"], "before",
                      device_time=datetime.now(UTC).isoformat(), lat=35.0050, lon=113.0150)  # device ≈ 911 m east
    assert ev["flags"] == ["exif_place_far", "exif_time_outside_case", "exif_device_time_mismatch",
                           "exif_device_place_mismatch", "device_place_far"]
    assert abs(datetime.fromisoformat(ev["captured_at"]) - old) < timedelta(seconds=1)


async def test_who_sees_what(client: httpx.AsyncClient, world: World) -> None:
    w = world
    case = await new_case(client, w, who="resident")
    data = jpeg(gps=(35.005, 113.005))
    up = await upload(client, w, "resident", data)
    await attach(client, w, "resident", case["id"], up["id"], "before", expect=403)  # residents: resident_photo
    ev = await attach(client, w, "resident", case["id"], up["id"], "resident_photo")
    eid = ev["id"]
    other = await upload(client, w, "resident2", jpeg(seed=9))
    await attach(client, w, "resident2", case["id"], other["id"], "resident_photo", expect=404)  # not their case

    # The reporter sees their photo, original included; another resident does not even learn it exists.
    r = await client.get(f"/api/v1/evidence/{eid}/content", headers=w.h("resident"))
    assert r.status_code == 200 and r.content == data
    for path in (f"/api/v1/evidence/{eid}", f"/api/v1/evidence/{eid}/content", f"/api/v1/evidence/{eid}/thumb"):
        assert (await client.get(path, headers=w.h("resident2"))).status_code == 404, path
    assert (await client.get(f"/api/v1/cases/{case['id']}/evidence")).json()["items"] == []

    # Published for the public map: anyone gets the EXIF-free preview and thumbnail, never the original.
    r = await client.patch(f"/api/v1/evidence/{eid}", json={"public": True}, headers=w.h("shiftlead"))
    assert r.status_code == 200 and r.json()["public"] is True
    items = (await client.get(f"/api/v1/cases/{case['id']}/evidence")).json()["items"]
    assert [(i["id"], i["url"], i["captured_lat"], i["flags"]) for i in items] == [(eid, None, None, [])]
    assert sorted(d["kind"] for d in items[0]["derivatives"]) == ["preview", "thumb"]
    preview = await client.get(f"/api/v1/evidence/{eid}/preview")
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(preview.content)).getexif()  # no camera GPS on the public map
    assert (await client.get(f"/api/v1/evidence/{eid}/content")).status_code == 401
    assert (await client.get(f"/api/v1/evidence/{eid}/content", headers=w.h("resident2"))).status_code == 403
    # Only the centre (intake, shift lead, commander, admin) publishes.
    r = await client.patch(f"/api/v1/evidence/{eid}", json={"public": False}, headers=w.h("officer"))
    assert r.status_code == 403


async def test_only_photos_can_be_public_and_roles_take_their_kinds(client: httpx.AsyncClient,
                                                                    world: World) -> None:
    w = world
    case = await new_case(client, w, who="inspector")
    clip = await upload(client, w, "inspector", mp4(), filename="clip.mp4")
    note = await upload(client, w, "inspector", wav(), filename="note.wav")
    await attach(client, w, "inspector", case["id"], note["id"], "before", expect=422)  # audio is not a "before"
    a = await attach(client, w, "inspector", case["id"], note["id"], "audio_note")
    assert (a["kind"], a["duration_seconds"], a["derivatives"]) == ("audio", 1.5, [])
    v = await attach(client, w, "inspector", case["id"], clip["id"], "during")
    r = await client.patch(f"/api/v1/evidence/{v['id']}", json={"public": True}, headers=w.h("commander"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "public"


async def test_video_gets_poster_duration_and_capture_tags(client: httpx.AsyncClient, world: World) -> None:
    w = world
    case = await new_case(client, w, who="inspector")
    recorded = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    data = mp4(frames=20, size=(160, 120), creation_time=recorded.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
               location="+35.0052+113.0051/")
    up = await upload(client, w, "inspector", data, filename="clip.mp4")
    assert (up["mime"], up["kind"]) == ("video/mp4", "video")
    ev = await attach(client, w, "inspector", case["id"], up["id"], "during")
    assert ev["duration_seconds"] == 2.0  # 20 frames at 10 fps
    assert (ev["width"], ev["height"]) == (160, 120)
    assert datetime.fromisoformat(ev["captured_at"]) == recorded
    assert (ev["captured_lat"], ev["captured_lon"], ev["flags"]) == (35.0052, 113.0051, [])
    poster = next(d for d in ev["derivatives"] if d["kind"] == "poster")
    r = await client.get(poster["url"], headers=w.h("inspector"))
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (160, 120)
    assert sha(r.content) == poster["sha256"]  # derived files are hashed too


async def test_download_with_range_and_the_chain_of_custody(client: httpx.AsyncClient, world: World,
                                                            rt: Runtime) -> None:
    w, data = world, jpeg()
    size = len(data)
    case = await new_case(client, w, who="inspector")
    up = await upload(client, w, "inspector", data)
    eid = (await attach(client, w, "inspector", case["id"], up["id"], "before"))["id"]
    url, h = f"/api/v1/evidence/{eid}/content", w.h("commander")

    full = await client.get(url, headers=h)
    assert full.status_code == 200 and full.content == data
    assert full.headers["etag"] == f'"{sha(data)}"' and full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-type"] == "image/jpeg" and full.headers["x-content-type-options"] == "nosniff"
    first = await client.get(url, headers={**h, "Range": "bytes=0-9"})
    assert (first.status_code, first.headers["content-range"], first.content) == (206, f"bytes 0-9/{size}", data[:10])
    tail = await client.get(url, headers={**h, "Range": "bytes=-5"})
    assert (tail.status_code, tail.content) == (206, data[-5:])
    past = await client.get(url, headers={**h, "Range": f"bytes={size}-"})
    assert (past.status_code, past.headers["content-range"]) == (416, f"bytes */{size}")
    stale = await client.get(url, headers={**h, "Range": "bytes=0-9", "If-Range": '"not-the-etag"'})
    assert stale.status_code == 200 and stale.content == data
    export = await client.get(url + "?download=true", headers=h)
    assert export.headers["content-disposition"] == f'attachment; filename="evidence-{eid}.jpg"'

    custody = (await client.get(f"/api/v1/evidence/{eid}/custody", headers=h)).json()
    # Views from the first byte are recorded; a player's follow-up ranges (-5) and refused ranges are not.
    assert [e["action"] for e in custody["entries"]] == [
        "upload.created", "upload.completed", "evidence.attached", "evidence.viewed", "evidence.viewed",
        "evidence.viewed", "evidence.exported"]
    assert custody["sha256"] == sha(data)
    async with rt.sessionmaker() as s:
        assert (await audit_service.verify(s)).ok


async def test_attach_rules(client: httpx.AsyncClient, world: World) -> None:
    w, data = world, jpeg()
    case = await new_case(client, w, who="inspector")
    r = await client.post("/api/v1/uploads", headers={**w.h("inspector"), "Tus-Resumable": "1.0.0",
                                                      "Upload-Length": str(len(data))})
    unfinished = r.headers["location"].rsplit("/", 1)[1]
    await attach(client, w, "inspector", case["id"], unfinished, "before", expect=409)
    theirs = await upload(client, w, "inspector2", data)
    await attach(client, w, "inspector", case["id"], theirs["id"], "before", expect=404)  # not the caller's upload
    mine = await upload(client, w, "inspector", data)
    first = await attach(client, w, "inspector", case["id"], mine["id"], "before")
    again = await attach(client, w, "inspector", case["id"], mine["id"], "before", expect=200)  # a retry
    assert again["id"] == first["id"]
    await attach(client, w, "inspector", case["id"], mine["id"], "after", expect=409)
    await attach(client, w, "inspector", 99999, mine["id"], "before", expect=404)
    r = await client.post(f"/api/v1/cases/{case['id']}/evidence", json={"upload_id": "../../etc/passwd",
                                                                       "role": "before"}, headers=w.h("inspector"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "upload_id"
    detail = (await client.get(f"/api/v1/cases/{case['id']}", headers=w.h("inspector"))).json()
    assert [e["action"] for e in detail["timeline"]].count("attach_evidence") == 1


async def test_truncated_and_corrupt_media_are_refused(client: httpx.AsyncClient, world: World,
                                                       settings: Any) -> None:
    w = world
    photo, clip = jpeg((800, 600)), mp4(frames=30, size=(320, 240), faststart=True)
    for data, name in ((photo[: len(photo) // 2], "cut.jpg"), (clip[: len(clip) // 2], "cut.mp4"),
                       (clip[:64] + bytes(20000), "zeros.mp4")):
        r = await client.post("/api/v1/uploads", content=data, headers={
            **w.h("officer"), "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)),
            "Content-Type": "application/offset+octet-stream"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "corrupt_media", (name, r.text)
    assert stored_files(settings.media_dir) == []
