"""Keeping the store honest: a cut chunk keeps exactly what arrived (unless checksummed), expired uploads and
unreferenced files are purged, ``cityops evidence verify`` finds changed and vanished files, and ``export``
writes the original with its chain of custody."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cityops.audit.models import AuditEntry
from cityops.auth import service as auth_service
from cityops.config import Settings
from cityops.media import maintenance, uploads
from cityops.media.errors import ChecksumMismatch
from cityops.runtime import Runtime
from media.helpers import TUS, attach, jpeg, sha, tus_create, tus_patch, upload
from support import World, new_case

CITYOPS = str(Path(sys.executable).parent / "cityops")


async def _pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


async def test_a_cut_chunk_keeps_what_arrived_unless_checksummed(client: httpx.AsyncClient, world: World,
                                                                 rt: Runtime) -> None:
    w, data = world, jpeg()
    url = await tus_create(client, w, "officer", len(data))
    upload_id = url.rsplit("/", 1)[1]
    now = datetime.now(UTC)
    async with rt.sessionmaker() as s:
        me = await auth_service.principal_for(s, w.tokens["officer"], now)
        # 30,000 of an announced 60,000 bytes arrive, then the connection ends: the 30,000 are kept.
        got = await uploads.append(rt, s, upload_id=upload_id, caller=me, offset=0, checksum=None,
                                   body=_pieces(data[:10_000], data[10_000:30_000]), content_length=60_000, now=now)
        assert got.offset == 30_000
        # The same with a checksum of the whole 30,000-byte chunk: a cut chunk cannot be verified, nothing is kept.
        digest = hashlib.sha256(data[30_000:60_000]).digest()
        got = await uploads.append(rt, s, upload_id=upload_id, caller=me, offset=30_000,
                                   checksum=uploads.Checksum("sha256", digest), body=_pieces(data[30_000:45_000]),
                                   content_length=30_000, now=now)
        assert got.offset == 30_000
        with pytest.raises(ChecksumMismatch):
            await uploads.append(rt, s, upload_id=upload_id, caller=me, offset=30_000,
                                 checksum=uploads.Checksum("sha256", digest), body=_pieces(data[30_000:59_999]),
                                 content_length=None, now=now)
    rest = await tus_patch(client, w, "officer", url, 30_000, data[30_000:])
    assert rest.status_code == 204 and rest.headers["upload-sha256"] == sha(data)
    part = rt.settings.media_dir / "uploads" / f"{upload_id}.part"
    assert not await asyncio.to_thread(part.exists)


async def test_bytes_a_machine_crash_lost_are_asked_for_again(client: httpx.AsyncClient, world: World,
                                                               rt: Runtime) -> None:
    """Chunks are acknowledged before the disk has them; after a power cut the spool file can be shorter than the
    offset the server acknowledged. HEAD then answers with what is on disk, audited, and the upload finishes
    from there with the right hash, never with a gap of zeros."""
    w, data = world, jpeg()
    url = await tus_create(client, w, "officer", len(data))
    part = rt.settings.media_dir / "uploads" / f"{url.rsplit('/', 1)[1]}.part"
    assert (await tus_patch(client, w, "officer", url, 0, data[:40_000])).headers["upload-offset"] == "40000"
    on_disk = 25_000
    await asyncio.to_thread(os.truncate, part, on_disk)  # what a power cut leaves when writeback was behind

    # A PATCH at the acknowledged offset is refused: the bytes before it are not all there.
    stale = await tus_patch(client, w, "officer", url, 40_000, data[40_000:])
    assert stale.status_code == 409
    head = await client.head(url, headers={**w.h("officer"), **TUS})
    assert head.headers["upload-offset"] == str(on_disk)
    done = await tus_patch(client, w, "officer", url, on_disk, data[on_disk:])
    assert done.status_code == 204 and done.headers["upload-sha256"] == sha(data)
    async with rt.sessionmaker() as s:
        rewound = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "upload.rewound"))).all()
    assert [(e.entity_id, json.loads(e.data)) for e in rewound] == [
        (url.rsplit("/", 1)[1], {"offset": 40_000, "on_disk": on_disk})]


async def test_a_crash_before_the_head_was_on_disk_sniffs_again(client: httpx.AsyncClient, world: World,
                                                                rt: Runtime) -> None:
    """If even the first bytes (the magic number the type was decided by) are gone, the type is decided again
    from what is sent now: a renamed executable cannot ride on a photo's earlier verdict."""
    w, photo = world, jpeg()
    url = await tus_create(client, w, "officer", len(photo))
    part = rt.settings.media_dir / "uploads" / f"{url.rsplit('/', 1)[1]}.part"
    assert (await tus_patch(client, w, "officer", url, 0, photo[:20_000])).status_code == 204
    await asyncio.to_thread(os.truncate, part, 0)
    head = await client.head(url, headers={**w.h("officer"), **TUS})
    assert head.headers["upload-offset"] == "0"
    state = (await client.get(url, headers=w.h("officer"))).json()
    assert (state["offset"], state["mime"], state["kind"]) == (0, None, None)
    elf = b"\x7fELF" + bytes(len(photo) - 4)
    refused = await tus_patch(client, w, "officer", url, 0, elf)
    assert refused.status_code == 415


async def test_expired_uploads_and_unreferenced_files_are_purged(client: httpx.AsyncClient, world: World,
                                                                 rt: Runtime, settings: Settings) -> None:
    w = world
    case = await new_case(client, w, who="inspector")
    unfinished = await tus_create(client, w, "inspector", 50_000)
    await tus_patch(client, w, "inspector", unfinished, 0, jpeg()[:4096])
    lost, kept = jpeg(seed=11), jpeg(seed=12)
    await upload(client, w, "inspector", lost)  # finished but never attached
    up = await upload(client, w, "inspector", kept)
    await attach(client, w, "inspector", case["id"], up["id"], "before")

    async with rt.sessionmaker() as s:
        nothing = await maintenance.purge_expired(rt, s, now=datetime.now(UTC))
    assert (nothing.expired_unfinished, nothing.expired_finished, nothing.removed_blobs) == (0, 0, [])

    later = datetime.now(UTC) + timedelta(hours=24, minutes=1)  # the default expiry is 24 h after the last chunk
    stray = settings.media_dir / "uploads" / ("f" * 32 + ".part")  # a crash left a file without its row

    def plant() -> None:
        stray.write_bytes(b"partial")
        os.utime(stray, (later.timestamp() - 25 * 3600,) * 2)

    await asyncio.to_thread(plant)
    async with rt.sessionmaker() as s:
        r = await maintenance.purge_expired(rt, s, now=later)
    # The unfinished upload, and both finished ones' attach windows; the unattached photo and its two
    # derivatives leave the store, the attached one stays.
    assert (r.expired_unfinished, r.expired_finished, len(r.removed_blobs), r.removed_strays) == (1, 2, 3, 1)
    assert sha(lost) in r.removed_blobs and sha(kept) not in r.removed_blobs
    media = settings.media_dir
    assert not list((media / "uploads").glob("*.part"))
    assert not (media / "blobs" / sha(lost)[:2] / sha(lost)[2:4] / sha(lost)).exists()
    assert (media / "blobs" / sha(kept)[:2] / sha(kept)[2:4] / sha(kept)).read_bytes() == kept
    assert (await client.head(unfinished, headers={**w.h("inspector"), **TUS})).status_code == 410
    async with rt.sessionmaker() as s:
        actions = list((await s.scalars(select(AuditEntry.action).where(
            AuditEntry.action.in_(["upload.expired", "blob.purged"])).order_by(AuditEntry.seq))).all())
    assert actions == ["upload.expired"] * 3 + ["blob.purged"]


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITYOPS_DATABASE_URL": settings.database_url, "CITYOPS_MEDIA_DIR": str(settings.media_dir)}
    return subprocess.run([CITYOPS, "evidence", *args], env=env, capture_output=True, text=True, timeout=120)


async def test_verify_lists_changed_and_vanished_files(client: httpx.AsyncClient, world: World,
                                                       settings: Settings) -> None:
    w = world
    case = await new_case(client, w, who="inspector")
    photos = [jpeg(seed=21), jpeg(seed=22)]
    ids = []
    for p in photos:
        up = await upload(client, w, "inspector", p)
        ids.append((await attach(client, w, "inspector", case["id"], up["id"], "after"))["id"])
    ok = await asyncio.to_thread(_cli, settings, "verify")
    assert ok.returncode == 0 and "evidence store intact: 6 files" in ok.stdout  # 2 originals + 2 × 2 derivatives

    blobs = settings.media_dir / "blobs"
    changed = blobs / sha(photos[0])[:2] / sha(photos[0])[2:4] / sha(photos[0])
    ev2 = (await client.get(f"/api/v1/evidence/{ids[1]}", headers=w.h("inspector"))).json()
    thumb = next(d["sha256"] for d in ev2["derivatives"] if d["kind"] == "thumb")

    def tamper() -> None:
        os.chmod(changed, 0o644)
        with changed.open("ab") as f:
            f.write(b"edited")
        (blobs / thumb[:2] / thumb[2:4] / thumb).unlink()

    await asyncio.to_thread(tamper)
    bad = await asyncio.to_thread(_cli, settings, "verify")
    assert bad.returncode == 1
    assert f"CHANGED: blob {sha(photos[0])} (now {sha(photos[0] + b'edited')}); evidence ids: {ids[0]}" in bad.stderr
    assert f"MISSING: thumb {thumb}; evidence ids: {ids[1]}" in bad.stderr
    assert "2 of 6 stored files changed or vanished" in bad.stderr


async def test_export_writes_the_original_and_its_custody(client: httpx.AsyncClient, world: World,
                                                          settings: Settings, tmp_path: Path) -> None:
    w, data = world, jpeg(seed=31)
    case = await new_case(client, w, who="inspector")
    up = await upload(client, w, "inspector", data)
    eid = (await attach(client, w, "inspector", case["id"], up["id"], "before"))["id"]
    out = tmp_path / "export"
    r = await asyncio.to_thread(_cli, settings, "export", str(eid), "--out", str(out))
    assert r.returncode == 0, r.stderr
    original = await asyncio.to_thread((out / f"evidence-{eid}.jpg").read_bytes)
    manifest = json.loads(await asyncio.to_thread((out / f"evidence-{eid}.custody.json").read_text, "utf-8"))
    assert original == data and manifest["sha256"] == sha(data) and manifest["case_id"] == case["id"]
    assert [e["action"] for e in manifest["custody"]] == ["upload.created", "upload.completed", "evidence.attached",
                                                          "evidence.exported"]
    assert base64.b16decode(manifest["custody"][-1]["hash"].upper())  # hex hashes of the audit chain
