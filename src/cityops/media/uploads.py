"""tus uploads, service side: create, append a chunk streamed to the spool, report, terminate.

Each PATCH holds the upload's lock, truncates the spool file to the acknowledged offset (bytes a crash left past
it were never acknowledged; a file shorter than the offset means a machine crash lost acknowledged bytes, and the
upload resumes from what is there), appends the body in 1 MiB writes from a worker thread (``spoolio.py``), and
then records the new offset. Memory per upload is one buffer, whatever the file size. A running SHA-256 of the whole
file is kept per process and rebuilt from the spool file when another process took the previous chunk.
When the last byte arrives the upload is finished (``finish.py``): checked, hashed, moved into the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import Connection, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.auth.service import Principal
from cityops.db import writing
from cityops.errors import Conflict, InvalidInput, NotFound
from cityops.media import finish, locks, sniff, spoolio, state
from cityops.media.errors import ChecksumMismatch, Gone, TooLarge, from_refusal
from cityops.media.models import Upload
from cityops.media.state import UploadView, forget
from cityops.media.storage import UPLOAD_ID_RE, Spool, sha256_prefix
from cityops.runtime import Runtime

BUFFER_BYTES = 1 << 20
LOCK_WAIT_SECONDS = 5.0
MAX_OPEN_PER_OWNER = 50
CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}

_hashers = state.hashers


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes


def spool_of(rt: Runtime) -> Spool:
    return Spool(rt.settings.media_dir)


def _expiry(rt: Runtime, now: datetime) -> datetime:
    return now + timedelta(hours=rt.settings.media.upload_expiry_hours)


async def create(rt: Runtime, session: AsyncSession, *, caller: Principal, length: int, metadata_header: str | None,
                 filename: str | None, now: datetime, body: AsyncIterator[bytes] | None = None,
                 checksum: Checksum | None = None, content_length: int | None = None) -> UploadView:
    """tus creation: a new upload of ``length`` bytes owned by the caller; with a body (creation-with-upload) its
    first chunk is appended at once."""
    view = await _create(rt, session, caller=caller, length=length, metadata_header=metadata_header,
                         filename=filename, now=now)
    if body is None:
        return view
    return await append(rt, session, upload_id=view.id, caller=caller, offset=0, checksum=checksum, body=body,
                        content_length=content_length, now=now)


async def read(session: AsyncSession, *, upload_id: str, caller: Principal) -> UploadView:
    return await _snapshot(session, upload_id, caller)


async def _create(rt: Runtime, session: AsyncSession, *, caller: Principal, length: int,
                  metadata_header: str | None, filename: str | None, now: datetime) -> UploadView:
    limit = sniff.max_size(rt.settings.media)
    if length <= 0:
        raise InvalidInput("Upload-Length must be at least 1: an empty file is not evidence", field="Upload-Length")
    if length > limit:
        raise TooLarge(f"Upload-Length {length} exceeds the largest accepted file ({limit} bytes)",
                       field="Upload-Length")
    spool = spool_of(rt)
    upload_id = secrets.token_hex(16)
    await asyncio.to_thread(spool.create, upload_id)
    try:
        async with writing(session):
            open_count = await session.scalar(select(func.count()).select_from(Upload).where(
                Upload.owner_id == caller.user_id, Upload.status == "open", Upload.expires_at > now))
            if (open_count or 0) >= MAX_OPEN_PER_OWNER:
                raise Conflict(f"you have {open_count} unfinished uploads; finish or DELETE some first",
                               field="Upload-Length")
            row = Upload(id=upload_id, owner_id=caller.user_id, length=length, offset=0, status="open",
                         metadata_header=metadata_header, filename=filename, created_at=now, updated_at=now,
                         expires_at=_expiry(rt, now))
            session.add(row)
            await session.flush()
            await audit_service.append(session, now=now, actor_id=caller.user_id, action="upload.created",
                                       entity_type="upload", entity_id=upload_id,
                                       data={"length": length, "filename": filename})
    except BaseException:
        spool.remove(upload_id)  # no row, no file
        raise
    return UploadView.of(row)


def _check_live(row: Upload | UploadView, now: datetime) -> None:
    if row.status == "failed":
        raise Gone(f"this upload was refused: {row.error}", field="upload_id")
    if row.status in ("terminated", "expired") or (row.status == "open" and row.expires_at <= now):
        raise Gone("this upload has expired or was terminated; start a new one", field="upload_id")


async def _reload(session: AsyncSession, upload_id: str) -> Upload:
    row = await session.get(Upload, upload_id, populate_existing=True)
    assert row is not None
    return row


async def status(rt: Runtime, session: AsyncSession, *, upload_id: str, caller: Principal,
                 now: datetime) -> UploadView:
    """tus HEAD: the acknowledged offset. Waits for (and interrupts) a PATCH still writing, so the answer is
    the offset the next PATCH must send."""
    view = await _snapshot(session, upload_id, caller)
    _check_live(view, now)
    if view.status == "open":
        try:
            async with locks.hold(spool_of(rt).part(upload_id), upload_id, wait_seconds=LOCK_WAIT_SECONDS) as f:
                view = await _snapshot(session, upload_id, caller)
                view = await _reconcile(session, view, f, caller.user_id, now)
        except locks.Vanished:
            view = await _snapshot(session, upload_id, caller)
        _check_live(view, now)
    return view


async def terminate(rt: Runtime, session: AsyncSession, *, upload_id: str, caller: Principal, now: datetime) -> None:
    """tus termination: drop an upload. Bytes already attached as evidence stay (the evidence holds them)."""
    view = await _snapshot(session, upload_id, caller)
    if view.status in ("terminated", "expired"):
        raise Gone("this upload has expired or was terminated already", field="upload_id")
    spool = spool_of(rt)
    try:
        async with locks.hold(spool.part(upload_id), upload_id, wait_seconds=LOCK_WAIT_SECONDS):
            await _close(session, upload_id, "terminated", caller.user_id, now, spool)
    except locks.Vanished:
        await _close(session, upload_id, "terminated", caller.user_id, now, spool)


async def _close(session: AsyncSession, upload_id: str, to: str, actor_id: int | None, now: datetime,
                 spool: Spool) -> None:
    async with writing(session):
        row = await _reload(session, upload_id)
        if row.status in ("terminated", "expired"):
            return
        before = row.status
        row.status, row.updated_at = to, now
        await audit_service.append(session, now=now, actor_id=actor_id, action=f"upload.{to}", entity_type="upload",
                                   entity_id=upload_id, data={"was": before, "offset": row.offset})
    spool.remove(upload_id)
    _hashers.pop(upload_id, None)


async def append(rt: Runtime, session: AsyncSession, *, upload_id: str, caller: Principal, offset: int,
                 checksum: Checksum | None, body: AsyncIterator[bytes], content_length: int | None,
                 now: datetime) -> UploadView:
    """tus PATCH: append the body at ``offset``. A checksummed chunk is all or nothing (460 on mismatch); an
    unchecksummed chunk cut short keeps what arrived, so the client resumes from there."""
    if state.owners.get(upload_id) != caller.user_id:
        view = await _snapshot(session, upload_id, caller)  # 404 for anyone but the owner
        if _live_and_open(view, offset, now):
            return view  # a retried final PATCH: the bytes are all here already
    spool = spool_of(rt)
    try:
        async with locks.hold(spool.part(upload_id), upload_id, wait_seconds=LOCK_WAIT_SECONDS) as f:
            view = await _snapshot(session, upload_id, caller)  # the offset as of now that the lock is ours
            if _live_and_open(view, offset, now):
                return view
            view = await _reconcile(session, view, f, caller.user_id, now)
            if content_length is not None and content_length > view.length - view.offset:
                raise TooLarge(f"the chunk runs past Upload-Length ({view.length} bytes)", field="Content-Length")
            if offset != view.offset:
                raise Conflict(f"Upload-Offset {offset} does not match the upload's offset {view.offset}",
                               field="Upload-Offset")
            try:
                written, h, sniffed = await _receive(rt, view, f, checksum, body, content_length, spool)
            except finish.Refusal as r:
                await finish.fail(rt, session, upload_id=upload_id, reason=r.refused.message, actor_id=caller.user_id,
                                  now=now)
                raise from_refusal(r.refused) from None
            new_offset = view.offset + written
            values: dict[str, Any] = {"offset": new_offset, "updated_at": now, "expires_at": _expiry(rt, now)}
            if sniffed is not None:
                values.update(mime=sniffed.mime, kind=sniffed.kind)
            # One UPDATE, guarded by the offset this PATCH started from: no re-read, and no audit entry (the chain
            # records the upload's creation and its outcome, not each chunk). Through the process's hot writer:
            # one short transaction, not a session's round trips.
            await rt.writer().run(_set_offset, upload_id, view.offset, values, audited=False)
            _hashers[upload_id] = (new_offset, h)
            if new_offset == view.length:
                return await finish.complete(rt, session, upload_id=upload_id, running=h, actor_id=caller.user_id,
                                             now=now, expiry=_expiry(rt, now))
            return dataclasses.replace(view, offset=new_offset, expires_at=values["expires_at"],
                                       mime=values.get("mime", view.mime), kind=values.get("kind", view.kind))
    except locks.Vanished:
        view = await _snapshot(session, upload_id, caller)
        if _live_and_open(view, offset, now):
            return view  # a retried final PATCH: the bytes are all here already
        raise Conflict("upload changed meanwhile; send HEAD to resume", field="Upload-Offset") from None


def _live_and_open(view: UploadView, offset: int, now: datetime) -> bool:
    """Refuses a PATCH to a dead upload (410) or to a complete one (409), except the retry of its final PATCH,
    for which it answers True."""
    _check_live(view, now)
    if view.status == "complete":
        if offset == view.length:
            return True
        raise Conflict(f"upload is complete ({view.length} bytes); nothing more can be appended",
                       field="Upload-Offset")
    return False


async def _reconcile(session: AsyncSession, state: UploadView, f: BinaryIO, actor_id: int, now: datetime
                     ) -> UploadView:
    """Called with the lock held. Chunks are acknowledged before the disk has them (``spoolio``), so after a
    machine crash the spool file can be shorter than the recorded offset: the upload goes back to what is really
    there, and the client, which asks with HEAD before resuming, sends the rest again."""
    on_disk = os.fstat(f.fileno()).st_size
    if state.status != "open" or on_disk >= state.offset:
        return state
    values: dict[str, Any] = {"offset": on_disk, "updated_at": now}
    if on_disk < min(sniff.SNIFF_BYTES, state.length):
        values.update(mime=None, kind=None)  # the head that was sniffed is gone: sniff what arrives again
    async with writing(session):
        await session.execute(update(Upload).where(Upload.id == state.id, Upload.offset == state.offset)
                              .values(**values))
        await audit_service.append(session, now=now, actor_id=actor_id, action="upload.rewound",
                                   entity_type="upload", entity_id=state.id,
                                   data={"offset": state.offset, "on_disk": on_disk})
    forget(state.id)
    return dataclasses.replace(state, offset=on_disk, mime=values.get("mime", state.mime),
                               kind=values.get("kind", state.kind))


_VIEW_COLUMNS = [getattr(Upload, f.name) for f in dataclasses.fields(UploadView)]


async def _snapshot(session: AsyncSession, upload_id: str, caller: Principal) -> UploadView:
    """The caller's upload as a detached view, read with one Core SELECT and no open transaction left behind
    (the body may stream for minutes; no database connection is held meanwhile). Ids are 32 hex digits; anything
    else (traversal attempts, NUL bytes) is not looked up at all, and someone else's upload answers like a
    missing one, so ids cannot be probed."""
    found = None
    if UPLOAD_ID_RE.fullmatch(upload_id):
        found = (await session.execute(select(*_VIEW_COLUMNS).where(Upload.id == upload_id))).first()
        await session.rollback()
    if found is None or found.owner_id != caller.user_id:
        raise NotFound(f"no upload {upload_id[:64]!r}", field="upload_id")
    state.remember_owner(upload_id, caller.user_id)
    return UploadView(*found)


async def _receive(rt: Runtime, state: UploadView, f: BinaryIO, checksum: Checksum | None,
                   body: AsyncIterator[bytes], content_length: int | None,
                   spool: Spool) -> tuple[int, Any, sniff.MediaType | None]:
    """Stream the body into the spool file. Returns (bytes kept, running hash, media type if sniffed now).
    Whatever is not kept is cut off the file again, and the cached hash rewound, before returning or raising."""
    start, remaining = state.offset, state.length - state.offset
    h = await _running_hash(spool, state.id, start)
    base = h.copy()
    chunk_h = CHECKSUMS[checksum.algorithm]() if checksum else None
    sniffed = sniff.MediaType(state.mime, sniff.kind_of(state.mime), sniff.extension_of(state.mime)) \
        if state.mime else None
    need_sniff = sniffed is None
    sniff_at = min(sniff.SNIFF_BYTES, state.length)
    if os.fstat(f.fileno()).st_size != start:  # bytes past the acknowledged offset: a crash, or a cut chunk
        await asyncio.to_thread(spoolio.truncate, f, start)
    else:
        f.seek(start)
    writer = locks.register(state.id)
    idle = rt.settings.media.upload_idle_seconds
    received, cut, pieces, buffered = 0, False, list[bytes](), 0
    disk = spoolio.Appender(f, h, chunk_h)
    it = body.__aiter__()
    try:
        while True:
            if writer.stop:
                cut = True
                break
            try:
                async with asyncio.timeout(idle) as t:
                    writer.reading = t
                    piece = await anext(it)
            except StopAsyncIteration:
                break
            except TimeoutError:
                cut = True  # a silent connection, or a newer request took the upload over
                break
            finally:
                writer.reading = None
            if received + len(piece) > remaining:
                raise TooLarge(f"the body runs past Upload-Length ({state.length} bytes)", field="body")
            pieces.append(piece)  # kept as received: written with one writev, never copied into a buffer
            received += len(piece)
            buffered += len(piece)
            if buffered >= BUFFER_BYTES:
                data, pieces, buffered = pieces, [], 0
                await disk.push(data)
                if sniffed is None and start + received >= sniff_at:
                    await disk.drain()
                    sniffed = await _sniff(rt, state.length, f)
        if pieces:
            await disk.push(pieces)
        await disk.drain()
        if sniffed is None and start + received >= sniff_at:
            sniffed = await _sniff(rt, state.length, f)
        cut = cut or (content_length is not None and received < content_length)
        if checksum is not None and chunk_h is not None:
            # A checksummed chunk is all or nothing: a cut one cannot be verified, a wrong one is refused.
            if cut:
                await _rewind(f, state.id, start, base)
                return 0, base, None
            if not hmac.compare_digest(chunk_h.digest(), checksum.digest):
                raise ChecksumMismatch(f"Upload-Checksum {checksum.algorithm} does not match the received chunk",
                                       field="Upload-Checksum")
        await disk.close()
    except BaseException:
        await disk.settle()
        await _rewind(f, state.id, start, base)
        raise
    finally:
        locks.unregister(state.id, writer)
        await _aclose(it)
    return received, h, sniffed if need_sniff else None


async def _rewind(f: BinaryIO, upload_id: str, start: int, base: Any) -> None:
    await asyncio.shield(asyncio.to_thread(spoolio.truncate, f, start))
    _hashers[upload_id] = (start, base)


async def _sniff(rt: Runtime, length: int, f: BinaryIO) -> sniff.MediaType:
    """Type from magic bytes as soon as the head is in: a renamed executable stops at its first chunk."""
    head = await asyncio.to_thread(os.pread, f.fileno(), sniff.SNIFF_BYTES, 0)
    try:
        media = sniff.detect(head)
        sniff.check_size(media, length, rt.settings.media)
    except sniff.Refused as r:
        raise finish.Refusal(r) from None
    return media


async def _running_hash(spool: Spool, upload_id: str, offset: int) -> Any:
    cached = _hashers.get(upload_id)
    if cached is not None and cached[0] == offset:
        return cached[1]
    _hashers.pop(upload_id, None)
    return await asyncio.to_thread(sha256_prefix, spool.part(upload_id), offset)


def _set_offset(conn: Connection, upload_id: str, old_offset: int, values: dict[str, Any]) -> None:
    conn.execute(update(Upload).where(Upload.id == upload_id, Upload.offset == old_offset).values(**values))


async def _aclose(it: AsyncIterator[bytes]) -> None:
    close = getattr(it, "aclose", None)
    if close is not None:
        # The body stream of a dead connection may complain on close; there is nothing to save from it.
        with contextlib.suppress(Exception):
            await close()


__all__ = ["UploadView", "append", "create", "forget", "status", "terminate"]
