"""Finishing an upload: the last byte is in, so hash, check, derive, and move it into the content-addressed store.

Order matters for "nothing half-written": files go into the store first, rows are committed after. A crash in
between leaves an unreferenced file in the store (harmless, listed by ``cityops evidence verify``), never a row
pointing at a missing file. A refused upload has its spool file deleted and is marked ``failed``: no partial
file can be attached to anything.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.db import writing
from cityops.media import derivatives, sniff
from cityops.media.errors import from_refusal
from cityops.media.models import Blob, Derivative, Upload
from cityops.media.state import UploadView, forget
from cityops.media.storage import BlobStore, Spool, store_for
from cityops.runtime import Runtime

log = logging.getLogger(__name__)


class Refusal(Exception):
    """Raised inside a PATCH when the bytes are not acceptable; the caller fails the upload, then answers."""

    def __init__(self, refused: sniff.Refused) -> None:
        super().__init__(refused.message)
        self.refused = refused


async def fail(rt: Runtime, session: AsyncSession, *, upload_id: str, reason: str, actor_id: int | None,
               now: datetime) -> None:
    """Mark an upload refused and delete its bytes (called with the upload's lock held)."""
    async with writing(session):
        row = await session.get(Upload, upload_id, populate_existing=True)
        assert row is not None
        row.status, row.error, row.updated_at = "failed", reason[:300], now
        await audit_service.append(session, now=now, actor_id=actor_id, action="upload.refused",
                                   entity_type="upload", entity_id=upload_id,
                                   data={"reason": reason[:300], "offset": row.offset, "length": row.length})
    Spool(rt.settings.media_dir).remove(upload_id)
    forget(upload_id)


def _insert_ignore(session: AsyncSession, model: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING: two uploads of the same bytes may finish at the same moment."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing()
    if name == "sqlite":
        return sqlite.insert(model).on_conflict_do_nothing()
    return insert(model)


def _store_all(store: BlobStore, files: list[tuple[Path, str]]) -> None:
    for path, digest in files:
        store.put(path, digest)


async def complete(rt: Runtime, session: AsyncSession, *, upload_id: str, running: Any, actor_id: int | None,
                   now: datetime, expiry: datetime) -> UploadView:
    """All bytes are in (lock held): refuse or store them; returns the completed upload."""
    spool, store = Spool(rt.settings.media_dir), store_for(rt.settings.media_dir)
    row = await session.get(Upload, upload_id, populate_existing=True)
    assert row is not None and row.mime is not None
    digest, length = running.hexdigest(), row.length
    media = sniff.MediaType(row.mime, sniff.kind_of(row.mime), sniff.extension_of(row.mime))
    known = await session.get(Blob, digest)
    known_kind, known_mime = (known.kind, known.mime) if known is not None else (None, None)
    await session.rollback()
    part = spool.part(upload_id)
    deduplicated = known is not None and store.size(digest) is not None
    blob_values: dict[str, Any] | None = None
    derived: list[derivatives.DerivedFile] = []
    if deduplicated:
        part.unlink(missing_ok=True)  # the same bytes are stored already: keep one copy
        kind, mime = str(known_kind), str(known_mime)
    else:
        try:
            found = await asyncio.to_thread(derivatives.inspect, part, media, spool=spool,
                                            local=ZoneInfo(rt.settings.timezone))
            sniff.check_size(sniff.MediaType(found.mime, found.kind, media.extension), length, rt.settings.media)
        except sniff.Refused as r:
            await fail(rt, session, upload_id=upload_id, reason=r.message, actor_id=actor_id, now=now)
            raise from_refusal(r) from None
        kind, mime, derived = found.kind, found.mime, found.derived
        c = found.capture
        blob_values = dict(sha256=digest, size=length, mime=mime, kind=kind, width=found.width,
                           height=found.height, duration_seconds=found.duration_seconds, captured_at=c.at,
                           captured_lat=c.lat, captured_lon=c.lon, meta=found.meta, created_at=now)
        # Into the store, on disk, before any row refers to it (a blob that vanished from the store is put back
        # here). Off the event loop: the fsync waits for whatever the disk has not written yet.
        await asyncio.to_thread(_store_all, store, [(part, digest), *((d.path, d.sha256) for d in derived)])
    async with writing(session):
        if blob_values is not None and known is None:
            await session.execute(_insert_ignore(session, Blob).values(**blob_values))
            for d in derived:
                await session.execute(_insert_ignore(session, Derivative).values(
                    blob_sha256=digest, kind=d.kind, sha256=d.sha256, size=d.size, mime=d.mime, width=d.width,
                    height=d.height))
        row = await session.get(Upload, upload_id, populate_existing=True)
        assert row is not None
        row.status, row.sha256, row.completed_at, row.updated_at, row.expires_at = (
            "complete", digest, now, now, expiry)
        row.mime, row.kind = mime, kind
        await audit_service.append(session, now=now, actor_id=actor_id, action="upload.completed",
                                   entity_type="upload", entity_id=upload_id,
                                   data={"sha256": digest, "size": row.length, "mime": mime, "kind": kind,
                                         "deduplicated": deduplicated, "filename": row.filename})
    forget(upload_id)
    view = UploadView.of(row)
    await session.rollback()
    return view
