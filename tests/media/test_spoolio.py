"""Appending to a spool file: bytes and running hash exactly as received, and the kernel asked to write them out
in contiguous ranges as they arrive (on its own thread, on a duplicate descriptor the caller never loses)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cityops.media import spoolio


async def test_appender_writes_hashes_and_starts_writeback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[int, int]] = []
    real = spoolio._advise

    def record(fd: int, offset: int, length: int) -> None:
        asked.append((offset, length))
        real(fd, offset, length)

    monkeypatch.setattr(spoolio, "_advise", record)
    mib = 1 << 20
    pieces = [os.urandom(256 * 1024) for _ in range(4 * 21)]  # 21 MiB in socket-read-sized pieces
    path = tmp_path / "u.part"
    path.write_bytes(b"head")
    with path.open("r+b") as f:
        f.seek(4)
        h, chunk_h = hashlib.sha256(b"head"), hashlib.sha256()
        disk = spoolio.Appender(f, h, chunk_h)
        for i in range(0, len(pieces), 4):
            await disk.push(pieces[i:i + 4])
        await disk.close()
        spoolio._writeback.submit(lambda: None).result()  # the writeback thread has done what was asked
        assert f.tell() == 4 + 21 * mib
        os.fstat(f.fileno())  # still open: the thread closed its own duplicate
    body = b"".join(pieces)
    assert path.read_bytes() == b"head" + body
    assert (h.hexdigest(), chunk_h.hexdigest()) == (hashlib.sha256(b"head" + body).hexdigest(),
                                                   hashlib.sha256(body).hexdigest())
    # Contiguous ranges from where the append began to its end, each at least WRITEBACK_BYTES but the last.
    assert asked[0][0] == 4 and sum(n for _, n in asked) == 21 * mib
    assert all(a + n == b for (a, n), (b, _) in zip(asked, asked[1:], strict=False))
    assert all(n >= spoolio.WRITEBACK_BYTES for _, n in asked[:-1]) and len(asked) == 3
