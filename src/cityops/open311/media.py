"""Photos uploaded with a request (v2.1 draft: multipart ``media[]``), stored by content under ``media_dir``.

Only images are taken, recognised by their first bytes rather than the client's Content-Type, and served back
with ``nosniff`` so a browser never runs an upload as a page. The request body is cut off at a limit while it is
read, so a huge upload is refused without first landing on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path

from starlette.types import Message, Receive

from cityops.open311.formats import Open311Error

MAX_FILES = 5
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_BODY_BYTES = MAX_FILES * MAX_FILE_BYTES + 1024 * 1024
MAX_FORM_BYTES = 256 * 1024  # a form without files: 4,000 characters of description and a few fields
SUBDIR = "open311"
_NAME = re.compile(r"^[0-9a-f]{64}\.(jpg|png|gif|webp)$")
TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}


def sniff(head: bytes) -> str | None:
    """The file extension of an image we accept, from its magic bytes; None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _write(folder: Path, name: str, data: bytes) -> None:
    target = folder / name
    if target.exists():  # same content, same name: nothing to do
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)  # atomic: readers never see half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def store(media_dir: Path, data: bytes, field: str) -> str:
    """Keep one uploaded image; returns its stored name (sha256.ext)."""
    if len(data) > MAX_FILE_BYTES:
        raise Open311Error(400, f"{field}: a file may have at most {MAX_FILE_BYTES // (1024 * 1024)} MB")
    ext = sniff(data[:16])
    if ext is None:
        raise Open311Error(400, f"{field}: only JPEG, PNG, GIF or WebP images are accepted")
    name = f"{hashlib.sha256(data).hexdigest()}.{ext}"
    await asyncio.to_thread(_write, media_dir / SUBDIR, name, data)
    return name


def path_of(media_dir: Path, name: str) -> Path | None:
    if not _NAME.match(name):
        return None
    p = media_dir / SUBDIR / name
    return p if p.is_file() else None


def limited(receive: Receive, limit: int = MAX_BODY_BYTES) -> Receive:
    """A receive channel that refuses a body longer than ``limit`` while it streams in."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise Open311Error(400, f"the request body is larger than {limit // 1024:,} KB")
        return message

    return wrapped
