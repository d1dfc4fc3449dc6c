"""Hash-chain rules of the audit log, pure: canonical JSON, entry hash, and the walk that finds a broken link."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text kept: one byte string per meaning, so the hash is reproducible."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class ChainEntry:
    seq: int
    at: datetime
    actor_id: int | None
    action: str
    entity_type: str
    entity_id: str
    data: str  # canonical JSON text
    prev_hash: str
    hash: str


def entry_hash(
    *, seq: int, at: datetime, actor_id: int | None, action: str, entity_type: str, entity_id: str,
    data: str, prev_hash: str,
) -> str:
    body = canonical_json(
        {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor_id": actor_id,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "data": data,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewEntry:
    """An entry to append: what happened; its place in the chain is decided when it is written."""

    at: datetime
    actor_id: int | None
    action: str
    entity_type: str
    entity_id: str | int
    data: dict[str, Any]


def chain_rows(head: tuple[int, str] | None, entries: Iterable[NewEntry]) -> Iterator[dict[str, Any]]:
    """The rows that append ``entries``, in order, after ``head`` (seq, hash of the newest entry; None when the
    log is empty). The instant is hashed in UTC, as it reads back from the database."""
    seq, prev = head if head else (0, GENESIS)
    for e in entries:
        seq += 1
        at = e.at.astimezone(UTC)
        body = canonical_json(e.data)
        entity_id = str(e.entity_id)
        digest = entry_hash(seq=seq, at=at, actor_id=e.actor_id, action=e.action, entity_type=e.entity_type,
                            entity_id=entity_id, data=body, prev_hash=prev)
        yield {"seq": seq, "at": at, "actor_id": e.actor_id, "action": e.action, "entity_type": e.entity_type,
               "entity_id": entity_id, "data": body, "prev_hash": prev, "hash": digest}
        prev = digest


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


def find_break(entries: Iterable[ChainEntry]) -> tuple[int, Break | None]:
    """Walk entries in seq order. Returns (entries checked, first break or None).

    An edited row fails its own hash; a deleted row leaves a gap in seq and a prev_hash that does not match;
    an inserted row either takes a seq that is not next or carries a prev_hash/hash that does not fit.
    """
    expected_seq = 1
    prev = GENESIS
    count = 0
    for e in entries:
        count += 1
        if e.seq != expected_seq:
            return count, Break(e.seq, f"sequence gap: expected entry {expected_seq}, found {e.seq} (deleted row?)")
        if e.prev_hash != prev:
            return count, Break(e.seq, "prev_hash does not match the previous entry (row inserted or removed?)")
        recomputed = entry_hash(
            seq=e.seq, at=e.at, actor_id=e.actor_id, action=e.action, entity_type=e.entity_type,
            entity_id=e.entity_id, data=e.data, prev_hash=e.prev_hash,
        )
        if recomputed != e.hash:
            return count, Break(e.seq, "content does not match its hash (row edited?)")
        prev = e.hash
        expected_seq += 1
    return count, None
