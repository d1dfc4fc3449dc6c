"""Where bytes live: a content-addressed blob store behind a small interface, and the spool of unfinished uploads.

Every name on disk is derived from a SHA-256 hex digest or a random upload id, both checked against a strict
pattern first, so no client-supplied name ever reaches a path (no traversal, no collisions with our own files).
An S3-compatible store implements ``BlobStore`` with object keys of the same shape; the spool stays local
(unfinished uploads are appended to, which object stores do not do).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{32}$")
READ_CHUNK = 1 << 20


def check_digest(sha256: str) -> str:
    if not SHA256_RE.fullmatch(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256[:80]!r}")
    return sha256


class BlobStore(Protocol):
    """Immutable files named by the SHA-256 of their content."""

    def put(self, source: Path, sha256: str) -> bool:
        """Move a finished local file in under its digest. False when these bytes were stored already (the
        source is removed either way: the same bytes are kept once)."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """A seekable reader; FileNotFoundError when the blob is gone."""
        ...

    def size(self, sha256: str) -> int | None:
        """Size in bytes, or None when the blob is gone."""
        ...

    def delete(self, sha256: str) -> None: ...

    def digests(self) -> Iterator[str]:
        """Every stored digest (for verification and orphan listing)."""
        ...


class LocalBlobStore:
    """``<root>/blobs/ab/cd/abcd…``: two levels of fan-out keep directories small; files are read-only."""

    def __init__(self, root: Path) -> None:
        self.root = root / "blobs"

    def path(self, sha256: str) -> Path:
        d = check_digest(sha256)
        return self.root / d[:2] / d[2:4] / d

    def put(self, source: Path, sha256: str) -> bool:
        target = self.path(sha256)
        if target.exists():
            source.unlink(missing_ok=True)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(source, 0o444)
        _sync_and_release(source)
        # rename is atomic: a reader sees no file or the whole file; two writers of the same bytes both win.
        os.replace(source, target)
        _fsync_dir(target.parent)
        return True

    def open(self, sha256: str) -> BinaryIO:
        return self.path(sha256).open("rb")

    def size(self, sha256: str) -> int | None:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def digests(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for p in sorted(self.root.glob("??/??/*")):
            if SHA256_RE.fullmatch(p.name):
                yield p.name


class Spool:
    """Unfinished uploads (``<root>/uploads/<id>.part``) and scratch files for derivatives (``<root>/tmp``).

    Both sit on the same filesystem as a local blob store, so finishing an upload is a rename, not a copy.
    """

    def __init__(self, root: Path) -> None:
        self.uploads = root / "uploads"
        self.tmp = root / "tmp"

    def part(self, upload_id: str) -> Path:
        if not UPLOAD_ID_RE.fullmatch(upload_id):
            raise ValueError(f"not an upload id: {upload_id[:80]!r}")
        return self.uploads / f"{upload_id}.part"

    def scratch(self, name: str) -> Path:
        self.tmp.mkdir(parents=True, exist_ok=True)
        return self.tmp / name

    def create(self, upload_id: str) -> Path:
        path = self.part(upload_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=False)
        return path

    def remove(self, upload_id: str) -> None:
        self.part(upload_id).unlink(missing_ok=True)


def store_for(media_dir: Path) -> LocalBlobStore:
    """The configured blob store (the local folder today; an object store would be chosen here by setting)."""
    return LocalBlobStore(media_dir)


def sha256_prefix(path: Path, upto: int | None = None) -> Any:
    """A running SHA-256 over a file (or its first ``upto`` bytes), read in 1 MiB pieces: memory stays flat."""
    h, n = hashlib.sha256(), 0
    with path.open("rb") as f:
        while upto is None or n < upto:
            piece = f.read(READ_CHUNK if upto is None else min(READ_CHUNK, upto - n))
            if not piece:
                break
            h.update(piece)
            n += len(piece)
    return h


def hash_file(path: Path) -> tuple[str, int]:
    """SHA-256 hex digest and size of a file."""
    h, n = hashlib.sha256(), 0
    with path.open("rb") as f:
        while piece := f.read(READ_CHUNK):
            h.update(piece)
            n += len(piece)
    return h.hexdigest(), n


def hash_blob(store: BlobStore, sha256: str) -> tuple[str, int] | None:
    """Re-hash a stored blob; None when it is gone."""
    h, n = hashlib.sha256(), 0
    try:
        f = store.open(sha256)
    except FileNotFoundError:
        return None
    with f:
        while piece := f.read(READ_CHUNK):
            h.update(piece)
            n += len(piece)
    return h.hexdigest(), n


def _sync_and_release(path: Path) -> None:
    """The bytes on disk before any row can refer to them; then their pages leave the cache (a 2 GB video that
    was just checked need not push the database's pages out)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
