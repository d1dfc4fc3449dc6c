"""HTTP Range (RFC 9110 §14) for downloads, pure: which bytes of a stored file a request asks for.

One range per request is served (what video players and resumable downloads send); a request with several
ranges or a syntax we do not understand gets the whole file, which the RFC allows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


class NotSatisfiable(Exception):
    """The range lies wholly past the end of the file: answer 416 with ``Content-Range: bytes */size``."""


def parse_range(header: str | None, size: int, *, if_range: str | None = None, etag: str | None = None
                ) -> ByteRange | None:
    """The single range asked for, or None for the whole file. Raises NotSatisfiable for a range past the end."""
    if not header:
        return None
    if if_range is not None and if_range.strip() != etag:
        return None  # the client's copy is stale: send it the whole current file
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    first, last = first.strip(), last.strip()
    if not (first.isdigit() or first == "") or not (last.isdigit() or last == "") or (first == last == ""):
        return None
    if first == "":  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise NotSatisfiable
        return ByteRange(max(0, size - n), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid syntax: ignored
    if start >= size:
        raise NotSatisfiable
    return ByteRange(start, min(end, size - 1))
