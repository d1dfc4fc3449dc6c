"""Keeping the store honest: re-hash every stored file (``cityops evidence verify``), purge expired uploads and
the bytes nothing refers to any more (``cityops evidence purge-expired``, and every few minutes in the server).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.audit.models import AuditEntry
from cityops.db import writing
from cityops.errors import Conflict, NotFound
from cityops.media import locks
from cityops.media.errors import Locked
from cityops.media.models import Blob, Derivative, Evidence, Upload
from cityops.media.state import forget
from cityops.media.storage import Spool, hash_blob, hash_file, store_for
from cityops.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    sha256: str
    what: str  # "blob" | "thumb" | "preview" | "poster"
    issue: str  # "changed" | "missing"
    found_sha256: str | None
    evidence_ids: list[int]


@dataclass
class VerifyReport:
    checked: int = 0
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)
    unreferenced: list[str] = field(default_factory=list)  # files in the store no row names (harmless)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify(rt: Runtime, session: AsyncSession, *, now: datetime, actor_id: int | None = None) -> VerifyReport:
    """Re-hash every stored original and derivative; list those whose bytes changed or that vanished. The run
    itself is recorded in the audit log (it is part of the custody record)."""
    store = store_for(rt.settings.media_dir)
    blobs = [(s, "blob", s) for (s,) in (await session.execute(select(Blob.sha256).order_by(Blob.sha256))).all()]
    ders = [(d, k, b) for d, k, b in (await session.execute(
        select(Derivative.sha256, Derivative.kind, Derivative.blob_sha256).order_by(Derivative.id))).all()]
    await session.rollback()
    report = VerifyReport()
    for digest, what, owner in blobs + ders:
        got = await asyncio.to_thread(hash_blob, store, digest)
        report.checked += 1
        if got is not None:
            report.bytes += got[1]
        if got is None or got[0] != digest:
            ids = list((await session.scalars(select(Evidence.id).where(Evidence.blob_sha256 == owner)
                                              .order_by(Evidence.id))).all())
            report.problems.append(Problem(digest, what, "missing" if got is None else "changed",
                                           got[0] if got else None, ids))
    known = {d for d, _, _ in blobs + ders}
    report.unreferenced = [d for d in await asyncio.to_thread(lambda: list(store.digests())) if d not in known]
    async with writing(session):
        await audit_service.append(session, now=now, actor_id=actor_id, action="media.verified", entity_type="media",
                                   entity_id="store", data={"checked": report.checked, "bytes": report.bytes,
                                                            "problems": [(p.sha256, p.issue) for p in report.problems]})
    return report


@dataclass
class PurgeReport:
    expired_unfinished: int = 0
    expired_finished: int = 0  # finished uploads whose attach window closed
    removed_blobs: list[str] = field(default_factory=list)
    removed_strays: int = 0  # spool and scratch files nothing owns


async def purge_expired(rt: Runtime, session: AsyncSession, *, now: datetime) -> PurgeReport:
    """Expire unfinished uploads past ``expires_at`` (their partial files are deleted), close the attach window of
    finished ones, and delete stored files that no evidence and no attachable upload refers to."""
    spool, store = Spool(rt.settings.media_dir), store_for(rt.settings.media_dir)
    report = PurgeReport()
    due = (await session.execute(select(Upload.id, Upload.status).where(
        Upload.status.in_(("open", "complete")), Upload.expires_at <= now).order_by(Upload.expires_at))).all()
    await session.rollback()
    for upload_id, status in due:
        if status == "open":
            try:
                async with locks.hold(spool.part(upload_id), upload_id, wait_seconds=0):
                    if await _expire(session, upload_id, now):
                        report.expired_unfinished += 1
                        spool.remove(upload_id)
            except locks.Vanished:
                if await _expire(session, upload_id, now):
                    report.expired_unfinished += 1
            except Locked:
                continue  # a PATCH is writing it right now: not abandoned after all
        elif await _expire(session, upload_id, now):
            report.expired_finished += 1
        forget(upload_id)
    report.removed_blobs = await _collect(rt, session, now)
    for digest in report.removed_blobs:
        store.delete(digest)
    report.removed_strays = await _sweep_spool(rt, session, now)
    return report


async def _sweep_spool(rt: Runtime, session: AsyncSession, now: datetime) -> int:
    """Spool files no open upload owns (a crash between writing the file and committing its row), and stale
    scratch files, once they are older than the upload expiry."""
    spool = Spool(rt.settings.media_dir)
    cutoff = (now - timedelta(hours=rt.settings.media.upload_expiry_hours)).timestamp()

    def listing() -> tuple[dict[str, Path], list[Path]]:
        parts = {p.stem: p for p in spool.uploads.glob("*.part") if p.stat().st_mtime < cutoff}
        scratch = [p for p in spool.tmp.glob("*") if p.stat().st_mtime < cutoff] if spool.tmp.is_dir() else []
        return parts, scratch

    parts, scratch = await asyncio.to_thread(listing)
    if parts:
        alive = set((await session.scalars(select(Upload.id).where(Upload.id.in_(list(parts)),
                                                                   Upload.status == "open"))).all())
        await session.rollback()
        scratch += [p for upload_id, p in parts.items() if upload_id not in alive]
    for p in scratch:
        p.unlink(missing_ok=True)
    return len(scratch)


async def _expire(session: AsyncSession, upload_id: str, now: datetime) -> bool:
    async with writing(session):
        row = await session.get(Upload, upload_id, populate_existing=True)
        if row is None or row.status not in ("open", "complete") or row.expires_at > now:
            return False  # it moved on meanwhile (finished, or a chunk arrived and renewed it)
        was, row.status, row.updated_at = row.status, "expired", now
        await audit_service.append(session, now=now, actor_id=None, action="upload.expired", entity_type="upload",
                                   entity_id=upload_id, data={"was": was, "offset": row.offset, "sha256": row.sha256})
    return True


async def _collect(rt: Runtime, session: AsyncSession, now: datetime) -> list[str]:
    """Delete the rows of blobs nothing refers to; returns the digests whose files may now be deleted."""
    async with writing(session):
        referenced = exists().where(Evidence.blob_sha256 == Blob.sha256)
        waiting = exists().where(Upload.sha256 == Blob.sha256, Upload.status == "complete", Upload.expires_at > now)
        orphans = list((await session.execute(select(Blob.sha256, Blob.size, Blob.mime)
                                              .where(~referenced, ~waiting))).all())
        if not orphans:
            return []
        shas = [o[0] for o in orphans]
        der_shas = list(await session.scalars(select(Derivative.sha256).where(Derivative.blob_sha256.in_(shas))))
        await session.execute(delete(Derivative).where(Derivative.blob_sha256.in_(shas)))
        await session.execute(delete(Blob).where(Blob.sha256.in_(shas)))
        for sha, size, mime in orphans:
            await audit_service.append(session, now=now, actor_id=None, action="blob.purged", entity_type="blob",
                                       entity_id=sha, data={"size": size, "mime": mime})
        # A derivative's bytes may coincide with another stored file: keep what is still named anywhere.
        candidates = set(shas) | set(der_shas)
        still = set((await session.scalars(select(Blob.sha256).where(Blob.sha256.in_(candidates)))).all())
        still |= set((await session.scalars(select(Derivative.sha256).where(Derivative.sha256.in_(candidates)))).all())
    return sorted(candidates - still)


async def purge_forever(rt: Runtime) -> None:
    """The server's periodic purge (started beside the deadline sweeper)."""
    while True:
        await asyncio.sleep(rt.settings.media.purge_interval_seconds)
        try:
            async with rt.sessionmaker() as session:
                r = await purge_expired(rt, session, now=rt.clock())
            if r.expired_unfinished or r.expired_finished or r.removed_blobs:
                log.info("media purge: %d unfinished and %d finished uploads expired, %d files removed",
                         r.expired_unfinished, r.expired_finished, len(r.removed_blobs))
        except asyncio.CancelledError:
            raise
        except Exception:  # keep purging: one bad pass must not stop it for good
            log.exception("media purge failed")


@dataclass(frozen=True)
class Exported:
    file: Path
    manifest: Path
    sha256: str


async def export(rt: Runtime, session: AsyncSession, *, evidence_id: int, out_dir: Path, now: datetime) -> Exported:
    """Copy an original out of the store with a manifest (hash, case, custody entries); the copy is re-hashed and
    the export recorded in the audit log, so the manifest's last entry is this export."""
    from cityops.media.sniff import extension_of

    row = (await session.execute(select(Evidence, Blob).join(Blob, Blob.sha256 == Evidence.blob_sha256)
                                 .where(Evidence.id == evidence_id))).first()
    if row is None:
        raise NotFound(f"no evidence {evidence_id}", field="evidence_id")
    ev, blob = row
    target = out_dir / f"evidence-{evidence_id}.{extension_of(blob.mime)}"
    store = store_for(rt.settings.media_dir)

    def copy() -> str:
        out_dir.mkdir(parents=True, exist_ok=True)
        with store.open(blob.sha256) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return hash_file(target)[0]

    got = await asyncio.to_thread(copy)
    if got != blob.sha256:
        target.unlink(missing_ok=True)
        raise Conflict(f"stored file of evidence {evidence_id} no longer matches its hash (run cityops evidence "
                       "verify)", field="evidence_id")
    async with writing(session):
        await audit_service.append(session, now=now, actor_id=None, action="evidence.exported",
                                   entity_type="evidence", entity_id=evidence_id,
                                   data={"sha256": blob.sha256, "case_id": ev.case_id, "to": "cli"})
        entries = (await session.scalars(select(AuditEntry).where(
            ((AuditEntry.entity_type == "evidence") & (AuditEntry.entity_id == str(evidence_id)))
            | ((AuditEntry.entity_type == "upload") & (AuditEntry.entity_id == ev.upload_id))
        ).order_by(AuditEntry.seq))).all()
        manifest = {
            "evidence_id": evidence_id, "case_id": ev.case_id, "role": ev.role, "sha256": blob.sha256,
            "size": blob.size, "mime": blob.mime, "file": target.name, "attached_at": ev.attached_at.isoformat(),
            "captured_at": blob.captured_at.isoformat() if blob.captured_at else None,
            "captured_lat": blob.captured_lat, "captured_lon": blob.captured_lon, "flags": ev.flags,
            "custody": [{"seq": e.seq, "at": e.at.isoformat(), "actor_id": e.actor_id, "action": e.action,
                         "entity": f"{e.entity_type}:{e.entity_id}", "data": e.data, "prev_hash": e.prev_hash,
                         "hash": e.hash} for e in entries],
        }
    path = out_dir / f"evidence-{evidence_id}.custody.json"
    await asyncio.to_thread(path.write_text, json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
    return Exported(target, path, blob.sha256)
