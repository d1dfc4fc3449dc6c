"""Helpers of the evidence tests: sample files made on the spot (photos with EXIF, a PNG decompression bomb,
videos, audio, an executable) and tus over the in-process client. Import as ``from media.helpers import …``."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
import sys
import tempfile
import wave
import zlib
from pathlib import Path
from typing import Any

import httpx
from PIL import ExifTags, Image

from support import World

TUS = {"Tus-Resumable": "1.0.0"}


# --- sample files -------------------------------------------------------------------------------------------------


def jpeg(size: tuple[int, int] = (640, 480), *, seed: int = 1, taken: str | None = None, offset: str | None = None,
         gps: tuple[float, float] | None = None, quality: int = 90) -> bytes:
    """A photo of noise (incompressible, so sizes are predictable) with optional EXIF time and GPS."""
    rnd = hashlib.sha256(str(seed).encode()).digest() * (size[0] * size[1] * 3 // 32 + 1)
    im = Image.frombytes("RGB", size, rnd[: size[0] * size[1] * 3])
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    if taken:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        sub[ExifTags.Base.DateTimeOriginal] = taken
        if offset:
            sub[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps:
        g = exif.get_ifd(ExifTags.IFD.GPSInfo)
        for ref, refs, value, tag in ((ExifTags.GPS.GPSLatitudeRef, "NS", gps[0], ExifTags.GPS.GPSLatitude),
                                      (ExifTags.GPS.GPSLongitudeRef, "EW", gps[1], ExifTags.GPS.GPSLongitude)):
            g[ref] = refs[0] if value >= 0 else refs[1]
            v = abs(value)
            d, m = int(v), int((v - int(v)) * 60)
            g[tag] = (float(d), float(m), round((v - d - m / 60) * 3600, 4))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def png_bomb(side: int = 15_000) -> bytes:
    """A real decompression bomb: a valid 1-bit PNG of side² pixels (225 MP) that compresses to a few KB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    z = zlib.compressobj(9)
    body = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def mp4(frames: int = 20, size: tuple[int, int] = (160, 120), *, faststart: bool = False,
        creation_time: str | None = None, location: str | None = None) -> bytes:
    import av

    # A real file: faststart rewrites the head once the clip is done, which an in-memory buffer cannot do.
    fd, name = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    c = av.open(name, "w", format="mp4", options={"movflags": "faststart"} if faststart else {})
    if creation_time:
        c.metadata["creation_time"] = creation_time
    if location:
        c.metadata["location"] = location
    s = c.add_stream("mpeg4", rate=10)
    s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
    for i in range(frames):
        f = av.VideoFrame(size[0], size[1], "yuv420p")
        for p in f.planes:
            p.update(hashlib.sha256(bytes([i])).digest() * (p.buffer_size // 32) + bytes(p.buffer_size % 32))
        f.pts = i
        for pkt in s.encode(f):
            c.mux(pkt)
    for pkt in s.encode():
        c.mux(pkt)
    c.close()
    try:
        return Path(name).read_bytes()
    finally:
        os.unlink(name)


def wav(seconds: float = 1.5, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x01" * int(seconds * rate))
    return out.getvalue()


def executable() -> bytes:
    """The first 64 KiB of this machine's Python interpreter (an ELF binary)."""
    with open(sys.executable, "rb") as f:
        return f.read(65536)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_files(media_dir: Path) -> list[Path]:
    """Every file under the media folder except scratch space (blobs and unfinished uploads)."""
    return sorted(p for p in media_dir.rglob("*") if p.is_file() and "tmp" not in p.relative_to(media_dir).parts)


# --- tus over the in-process client --------------------------------------------------------------------------------


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


async def tus_create(client: httpx.AsyncClient, w: World, who: str, length: int, **headers: str) -> str:
    r = await client.post("/api/v1/uploads", headers={**w.h(who), **TUS, "Upload-Length": str(length), **headers})
    assert r.status_code == 201, r.text
    return str(r.headers["location"])


async def tus_patch(client: httpx.AsyncClient, w: World, who: str, url: str, offset: int, data: bytes,
                    **headers: str) -> httpx.Response:
    return await client.patch(url, content=data, headers={
        **w.h(who), **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
        **headers})


async def upload(client: httpx.AsyncClient, w: World, who: str, data: bytes, filename: str = "photo.jpg",
                 chunk: int = 256 * 1024) -> dict[str, Any]:
    """Upload through tus in chunks; returns the finished upload's JSON state."""
    url = await tus_create(client, w, who, len(data), **{"Upload-Metadata": meta(filename=filename)})
    for off in range(0, len(data), chunk):
        r = await tus_patch(client, w, who, url, off, data[off:off + chunk])
        assert r.status_code == 204, r.text
    r = await client.get(url, headers=w.h(who))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def attach(client: httpx.AsyncClient, w: World, who: str, case_id: int, upload_id: str, role: str,
                 expect: int = 201, **extra: Any) -> dict[str, Any]:
    r = await client.post(f"/api/v1/cases/{case_id}/evidence", json={"upload_id": upload_id, "role": role, **extra},
                          headers=w.h(who))
    assert r.status_code == expect, r.text
    return dict(r.json())


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path
