"""Per-process upload state shared by the tus service modules: detached snapshots and the running hashes."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cityops.media.models import Upload

# upload id → (offset, running SHA-256 of bytes [0, offset)) for uploads this process wrote last. Another process
# may take the next chunk; then the offsets differ and the hash is rebuilt from the spool file.
hashers: dict[str, tuple[int, Any]] = {}


# upload id → owner's user id, for the uploads this process has seen lately. Owners never change, so a PATCH from
# the owner goes straight to the upload's lock and reads the row once, under it; anyone else is looked up (and
# refused) before the lock, so a stranger can never interrupt someone's upload.
OWNERS_KEPT = 4096
owners: OrderedDict[str, int] = OrderedDict()


def remember_owner(upload_id: str, owner_id: int) -> None:
    owners[upload_id] = owner_id
    owners.move_to_end(upload_id)
    while len(owners) > OWNERS_KEPT:
        owners.popitem(last=False)


def forget(upload_id: str) -> None:
    hashers.pop(upload_id, None)
    owners.pop(upload_id, None)


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
