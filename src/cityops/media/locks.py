"""One writer per upload: an exclusive ``flock`` on its spool file, and a way to make a stuck writer let go.

A phone on 4G that loses coverage sends no FIN: its PATCH stays open on the server, holding the upload, while the
phone reconnects and sends HEAD to resume. As tusd does, a new request for a held upload asks the holder to stop:
the holder saves what it received and releases (``Writer.interrupt``). That reaches a writer in this process;
a writer in another server process stops at its idle timeout (``media.upload_idle_seconds``), and until then the
newcomer gets 423 Locked, which tus clients retry.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

from cityops.media.errors import Locked

POLL_SECONDS = 0.02


class Writer:
    """The PATCH currently streaming into an upload in this process."""

    def __init__(self) -> None:
        self.stop = False
        self.reading: asyncio.Timeout | None = None  # set while awaiting the next piece of the body

    def interrupt(self) -> None:
        self.stop = True
        if self.reading is not None:
            # Expire the read's timeout now: the writer wakes as if idle, keeps what it has and lets go.
            self.reading.reschedule(asyncio.get_running_loop().time())


_writers: dict[str, Writer] = {}


def register(upload_id: str) -> Writer:
    w = _writers[upload_id] = Writer()
    return w


def unregister(upload_id: str, w: Writer) -> None:
    if _writers.get(upload_id) is w:
        del _writers[upload_id]


def _interrupt(upload_id: str) -> None:
    w = _writers.get(upload_id)
    if w is not None:
        w.interrupt()


class Vanished(Exception):
    """The upload's spool file is gone: it finished, was terminated or expired meanwhile."""


@asynccontextmanager
async def hold(path: Path, upload_id: str, *, wait_seconds: float) -> AsyncIterator[BinaryIO]:
    """The spool file, opened read-write and exclusively locked. Raises Vanished when the file is gone: the
    caller re-reads the upload's state."""
    try:
        f = path.open("r+b")  # never creates: a finished upload's file is not brought back by a late request
    except FileNotFoundError:
        raise Vanished(upload_id) from None
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                _interrupt(upload_id)
                if loop.time() >= deadline:
                    raise Locked("another request is writing this upload; retry shortly",
                                 field="upload_id") from None
                await asyncio.sleep(POLL_SECONDS)
        try:
            yield f
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    finally:
        f.close()
