"""The tus 1.0.0 protocol over HTTP: discovery, creation (with upload), HEAD/PATCH, checksum, termination, owner-only
access and bad headers — each answered with the status the protocol names, and nothing kept that was refused."""

from __future__ import annotations

import base64
import hashlib
import re
from email.utils import parsedate_to_datetime

import httpx

from cityops.config import Settings
from media.helpers import TUS, jpeg, meta, sha, stored_files, tus_create, tus_patch
from support import World


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


async def test_discovery_names_version_extensions_limits(client: httpx.AsyncClient, world: World) -> None:
    r = await client.options("/api/v1/uploads")
    assert r.status_code == 204
    assert r.headers["tus-resumable"] == "1.0.0" and r.headers["tus-version"] == "1.0.0"
    assert set(r.headers["tus-extension"].split(",")) == {
        "creation", "creation-with-upload", "termination", "checksum", "expiration"}
    assert r.headers["tus-max-size"] == str(8 * 2**20)  # the video limit is the largest (test settings)
    assert "sha256" in r.headers["tus-checksum-algorithm"].split(",")


async def test_upload_in_chunks_with_sha256_checksums(client: httpx.AsyncClient, world: World,
                                                      settings: Settings) -> None:
    w, data = world, jpeg()
    url = await tus_create(client, w, "officer", len(data), **{"Upload-Metadata": meta(filename="现场.jpg")})
    assert url.startswith("/api/v1/uploads/") and len(url.rsplit("/", 1)[1]) == 32

    head = await client.head(url, headers={**w.h("officer"), **TUS})
    assert head.status_code == 200
    assert (head.headers["upload-offset"], head.headers["upload-length"]) == ("0", str(len(data)))
    assert head.headers["upload-metadata"] == meta(filename="现场.jpg")  # echoed as sent
    assert head.headers["cache-control"] == "no-store" and head.headers["tus-resumable"] == "1.0.0"
    assert parsedate_to_datetime(head.headers["upload-expires"]).tzinfo is not None

    half = len(data) // 2
    first = await tus_patch(client, w, "officer", url, 0, data[:half],
                            **{"Upload-Checksum": "sha256 " + _b64(hashlib.sha256(data[:half]).digest())})
    assert first.status_code == 204 and first.headers["upload-offset"] == str(half)
    last = await tus_patch(client, w, "officer", url, half, data[half:],
                           **{"Upload-Checksum": "sha256 " + _b64(hashlib.sha256(data[half:]).digest())})
    assert last.status_code == 204 and last.headers["upload-offset"] == str(len(data))
    assert last.headers["upload-sha256"] == sha(data)

    state = (await client.get(url, headers=w.h("officer"))).json()
    assert (state["status"], state["mime"], state["kind"], state["sha256"]) == ("complete", "image/jpeg", "image",
                                                                               sha(data))
    assert state["filename"] == "现场.jpg"
    # The bytes now live in the content-addressed store under their hash, and nowhere else.
    blobs = [p for p in stored_files(settings.media_dir) if p.parent.parent.parent.name == "blobs"]
    assert sha(data) in [p.name for p in blobs]
    assert not list((settings.media_dir / "uploads").glob("*.part"))
    assert (settings.media_dir / "blobs" / sha(data)[:2] / sha(data)[2:4] / sha(data)).read_bytes() == data


async def test_checksum_mismatch_is_460_and_keeps_nothing(client: httpx.AsyncClient, world: World) -> None:
    w, data = world, jpeg()
    url = await tus_create(client, w, "officer", len(data))
    wrong = _b64(hashlib.sha256(b"something else").digest())
    r = await tus_patch(client, w, "officer", url, 0, data[:5000], **{"Upload-Checksum": f"sha256 {wrong}"})
    assert r.status_code == 460 and r.json()["error"]["code"] == "checksum_mismatch"
    head = await client.head(url, headers={**w.h("officer"), **TUS})
    assert head.headers["upload-offset"] == "0"
    # The client sends the chunk again, right this time, and finishes with sha1 (the algorithm tus requires).
    r = await tus_patch(client, w, "officer", url, 0, data[:5000],
                        **{"Upload-Checksum": "sha1 " + _b64(hashlib.sha1(data[:5000]).digest())})
    assert r.status_code == 204 and r.headers["upload-offset"] == "5000"
    r = await tus_patch(client, w, "officer", url, 5000, data[5000:])
    assert r.status_code == 204 and r.headers["upload-sha256"] == sha(data)


async def test_protocol_errors(client: httpx.AsyncClient, world: World) -> None:
    w, data = world, jpeg()
    h = w.h("officer")
    r = await client.post("/api/v1/uploads", headers={**h, "Upload-Length": "10"})
    assert r.status_code == 412 and r.headers["tus-version"] == "1.0.0"
    r = await client.post("/api/v1/uploads", headers={**h, **TUS, "Upload-Length": "ten"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "Upload-Length"
    r = await client.post("/api/v1/uploads", headers={**h, **TUS, "Upload-Length": str(8 * 2**20 + 1)})
    assert r.status_code == 413
    r = await client.post("/api/v1/uploads", headers={**h, **TUS, "Upload-Length": "0"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "Upload-Length"
    r = await client.post("/api/v1/uploads", headers={**h, **TUS, "Upload-Length": "10",
                                                      "Upload-Metadata": "filename not-base64!"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "Upload-Metadata"

    url = await tus_create(client, w, "officer", len(data))
    r = await tus_patch(client, w, "officer", url, 7, data[:100])
    assert r.status_code == 409  # the upload is at 0
    r = await client.patch(url, content=data[:100], headers={**h, **TUS, "Upload-Offset": "0",
                                                             "Content-Type": "application/octet-stream"})
    assert r.status_code == 415
    r = await tus_patch(client, w, "officer", url, 0, data[:100], **{"Upload-Checksum": "crc32 AAAA"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "Upload-Checksum"
    r = await tus_patch(client, w, "officer", url, 0, data + b"extra")
    assert r.status_code == 413  # more than Upload-Length
    head = await client.head(url, headers={**h, **TUS})
    assert head.headers["upload-offset"] == "0"  # none of the refused requests kept a byte


async def test_only_the_owner_may_touch_an_upload(client: httpx.AsyncClient, world: World) -> None:
    w, data = world, jpeg()
    url = await tus_create(client, w, "officer", len(data))
    for who in ("officer2", "commander"):
        hh = {**w.h(who), **TUS}
        assert (await client.head(url, headers=hh)).status_code == 404
        assert (await tus_patch(client, w, who, url, 0, data[:10])).status_code == 404
        assert (await client.delete(url, headers=hh)).status_code == 404
    assert (await client.head(url, headers=TUS)).status_code == 401
    head = await client.head(url, headers={**w.h("officer"), **TUS})
    assert head.headers["upload-offset"] == "0"


async def test_creation_with_upload_and_termination(client: httpx.AsyncClient, world: World,
                                                    settings: Settings) -> None:
    w, data = world, jpeg()
    r = await client.post("/api/v1/uploads", content=data[:4096], headers={
        **w.h("resident"), **TUS, "Upload-Length": str(len(data)), "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 201 and r.headers["upload-offset"] == "4096"
    url = r.headers["location"]
    part = settings.media_dir / "uploads" / f"{url.rsplit('/', 1)[1]}.part"
    assert part.read_bytes() == data[:4096]

    r = await client.delete(url, headers={**w.h("resident"), **TUS})
    assert r.status_code == 204 and r.headers["tus-resumable"] == "1.0.0"
    assert not part.exists()
    assert (await client.head(url, headers={**w.h("resident"), **TUS})).status_code == 410
    assert (await tus_patch(client, w, "resident", url, 4096, data[4096:])).status_code == 410
    assert (await client.get(url, headers=w.h("resident"))).json()["status"] == "terminated"


async def test_names_never_reach_the_filesystem(client: httpx.AsyncClient, world: World, settings: Settings) -> None:
    w, data = world, jpeg()
    for bad in ("..%2F..%2Fetc%2Fpasswd", "....", "a" * 32 + "%00", "%2e%2e"):
        r = await client.head(f"/api/v1/uploads/{bad}", headers={**w.h("officer"), **TUS})
        assert r.status_code == 404, bad
    url = await tus_create(client, w, "officer", len(data),
                           **{"Upload-Metadata": meta(filename="../../../etc/passwd\x00.jpg")})
    await tus_patch(client, w, "officer", url, 0, data)
    state = (await client.get(url, headers=w.h("officer"))).json()
    assert state["filename"] == "passwd.jpg"  # a label: last segment, control characters dropped
    names = {p.name for p in stored_files(settings.media_dir)}
    assert names >= {sha(data)} and not any("passwd" in n for n in names)
    # Every stored path is made of hex digests only: blobs/ab/cd/<sha256>.
    rel = [str(p.relative_to(settings.media_dir)) for p in stored_files(settings.media_dir)]
    assert rel and all(re.fullmatch(r"blobs/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}", r) for r in rel), rel
