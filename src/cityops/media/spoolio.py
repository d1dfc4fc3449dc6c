"""Appending a PATCH body to an upload's spool file: writing and hashing off the event loop, and writeback.

The event loop receives the next buffer while a worker thread writes and hashes the previous one: at most two
buffers exist per upload, whatever the file size. Every ``WRITEBACK_BYTES`` the kernel is asked to start
writing the new pages out, on a thread of its own, because asking can block while the disk's queue is full and
neither the receive nor the hashing should wait for the disk. Nothing here waits for the disk to finish: a chunk
is acknowledged once its bytes are in the file, as tusd does; the bytes become durable when the finished file is
stored (``LocalBlobStore.put`` fsyncs it). A machine crash can therefore lose acknowledged bytes; the next request
finds the file shorter than the recorded offset and the upload resumes from what is really there
(``uploads._reconcile``), which is what tus clients do after any interruption.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

WRITEBACK_BYTES = 8 << 20

# One thread: writeback requests for all uploads queue here, so a slow disk holds up this thread, not the pool.
_writeback = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cityops-writeback")


class Appender:
    """Writes (and hashes) one buffer in a worker thread while the next one is received."""

    def __init__(self, f: BinaryIO, h: Any, chunk_h: Any) -> None:
        self.f, self.h, self.chunk_h = f, h, chunk_h
        self.pending: asyncio.Future[None] | None = None
        self.unflushed_from = f.tell()

    async def push(self, data: list[bytes]) -> None:
        await self.drain()
        self.pending = asyncio.ensure_future(asyncio.to_thread(_write, self.f, data, self.h, self.chunk_h))

    async def drain(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            await pending
            self._write_out(WRITEBACK_BYTES)

    async def close(self) -> None:
        """All written: start writing out what is left (not waited for)."""
        await self.drain()
        self._write_out(1)

    def _write_out(self, at_least: int) -> None:
        end = self.f.tell()
        if end - self.unflushed_from >= at_least:
            start_writeback(self.f, self.unflushed_from, end - self.unflushed_from)
            self.unflushed_from = end

    async def settle(self) -> None:
        """After a failure: let a write still running finish (its bytes are then cut off again)."""
        if self.pending is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait([self.pending])
            self.pending = None


def start_writeback(f: BinaryIO, offset: int, length: int) -> None:
    """Ask the kernel to write ``[offset, offset+length)`` out now rather than 30 s from now, without waiting.
    ``POSIX_FADV_DONTNEED`` starts writeback of dirty pages (and drops pages already clean), so the disk works
    while the rest arrives and the final fsync has little left to do. A duplicate descriptor: the file may be
    closed by the time the thread gets to it."""
    if not hasattr(os, "posix_fadvise"):
        return
    fd = os.dup(f.fileno())
    _writeback.submit(_advise, fd, offset, length)


def _advise(fd: int, offset: int, length: int) -> None:
    try:
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def truncate(f: BinaryIO, size: int) -> None:
    f.truncate(size)
    f.seek(size)


def _write(f: BinaryIO, pieces: list[bytes], h: Any, chunk_h: Any) -> None:
    fd, at = f.fileno(), f.tell()
    size = sum(len(p) for p in pieces)
    done = os.writev(fd, pieces)
    if done < size:  # a short write (rare: signals, full disk): write the rest piece by piece
        rest = b"".join(pieces)[done:]
        while rest:
            rest = rest[os.write(fd, rest):]
    f.seek(at + size)
    for p in pieces:  # hashlib releases the GIL on large buffers: the event loop keeps serving
        h.update(p)
        if chunk_h is not None:
            chunk_h.update(p)
