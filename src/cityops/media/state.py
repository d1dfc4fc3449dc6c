"""Per-process upload state shared by the tus service modules: detached snapshots and the running hashes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cityops.media.models import Upload

# upload id → (offset, running SHA-256 of bytes [0, offset)) for uploads this process wrote last. Another process
# may take the next chunk; then the offsets differ and the hash is rebuilt from the spool file.
hashers: dict[str, tuple[int, Any]] = {}


def forget(upload_id: str) -> None:
    hashers.pop(upload_id, None)


@dataclass(frozen=True)
class UploadView:
    """An upload's state, detached from the session (safe to read after the transaction ended)."""

    id: str
    owner_id: int
    length: int
    offset: int
    status: str
    metadata_header: str | None
    filename: str | None
    mime: str | None
    kind: str | None
    sha256: str | None
    error: str | None
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, u: Upload) -> UploadView:
        return cls(u.id, u.owner_id, u.length, u.offset, u.status, u.metadata_header, u.filename, u.mime, u.kind,
                   u.sha256, u.error, u.created_at, u.expires_at, u.completed_at)
