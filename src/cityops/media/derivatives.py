"""Check a finished upload really is the media its magic bytes claim, read its capture data, and make derivatives.

Blocking work (Pillow, PyAV, hashing): the service runs it in a worker thread, one file at a time per process
(``_ONE_AT_A_TIME``) so a burst of large photos cannot stack decoded bitmaps in memory.

- Images: Pillow opens only the sniffed format; more pixels than ``Image.MAX_IMAGE_PIXELS`` (Pillow's
  decompression-bomb limit) is refused before anything is decoded; the full decode then catches truncation.
  Derivatives are a 320 px thumbnail and a 1280 px preview, re-encoded as JPEG, so they carry no EXIF (the
  public map shows previews: no camera GPS or serial numbers leak).
- Videos and audio: PyAV demuxes every packet (no decoding) and compares the count with the container's own
  index, which is how a cut-off MP4 shows itself; the first video frame becomes the poster.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import tzinfo
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from cityops.media import exif
from cityops.media.sniff import Kind, MediaType, Refused
from cityops.media.storage import Spool, hash_file

THUMB_PX = 320
PREVIEW_PX = 1280
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_ONE_AT_A_TIME = threading.BoundedSemaphore(1)


@dataclass(frozen=True)
class DerivedFile:
    kind: str  # thumb | preview | poster
    path: Path
    sha256: str
    size: int
    mime: str
    width: int
    height: int


@dataclass
class Inspection:
    kind: Kind
    mime: str
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    capture: exif.Capture = field(default_factory=exif.Capture)
    meta: dict[str, Any] = field(default_factory=dict)
    derived: list[DerivedFile] = field(default_factory=list)

    def discard(self) -> None:
        for d in self.derived:
            d.path.unlink(missing_ok=True)


def inspect(path: Path, media: MediaType, *, spool: Spool, local: tzinfo) -> Inspection:
    """Validate and describe a finished file; raises Refused for bombs, corrupt or truncated media."""
    with _ONE_AT_A_TIME:
        if media.kind == "image":
            return _image(path, media, spool, local)
        return _av(path, media, spool)


def _too_many_pixels(w: int, h: int) -> Refused:
    return Refused(f"image of {w}×{h} pixels exceeds the decompression-bomb limit of {Image.MAX_IMAGE_PIXELS} "
                   "pixels", 422, "decompression_bomb")


def _image(path: Path, media: MediaType, spool: Spool, local: tzinfo) -> Inspection:
    fmt = _PIL_FORMATS[media.mime]
    try:
        if fmt == "PNG":
            with Image.open(path, formats=[fmt]) as probe:
                probe.verify()  # chunk CRCs through IEND: catches a cut-off or altered PNG
        # Pillow raises above 2× its limit and only warns between 1× and 2×; the size check refuses both.
        with Image.open(path, formats=[fmt]) as im:
            w, h = im.size
            if w * h > (Image.MAX_IMAGE_PIXELS or 0):
                raise _too_many_pixels(w, h)
            capture = exif.from_image(im, local)
            orientation = im.getexif().get(0x0112)
            im.draft("RGB", (PREVIEW_PX, PREVIEW_PX))  # JPEG: decode at reduced scale, still reads it all
            im.load()
            rgb = ImageOps.exif_transpose(im).convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise Refused(f"refused as a decompression bomb: {e}", 422, "decompression_bomb") from e
    except Refused:
        raise
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as e:
        raise Refused(f"corrupt or truncated {media.mime} file: {e}", 422, "corrupt_media") from e
    out = Inspection(kind="image", mime=media.mime, width=w, height=h, capture=capture,
                     meta={"format": fmt, "camera": capture.camera, "orientation": orientation})
    try:
        for kind, px in (("preview", PREVIEW_PX), ("thumb", THUMB_PX)):
            out.derived.append(_jpeg(rgb, kind, px, spool))
    except BaseException:
        out.discard()
        raise
    return out


def _jpeg(im: Image.Image, kind: str, px: int, spool: Spool) -> DerivedFile:
    copy = im.copy()
    copy.thumbnail((px, px), Image.Resampling.LANCZOS)
    path = spool.scratch(f"{secrets.token_hex(8)}.{kind}.jpg")
    # Huffman optimisation saves ~8 % of a preview's bytes but costs 2–5× its encoding time (40 ms for a 1280 px
    # video frame), paid while the uploader waits for the last chunk's answer; thumbnails, small and sent often,
    # keep it.
    copy.save(path, "JPEG", quality=85, optimize=px <= THUMB_PX)
    digest, size = hash_file(path)
    return DerivedFile(kind, path, digest, size, "image/jpeg", copy.width, copy.height)


def _av(path: Path, media: MediaType, spool: Spool) -> Inspection:
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            video = c.streams.video[0] if c.streams.video else None
            audio = c.streams.audio[0] if c.streams.audio else None
            if video is None and audio is None:
                raise Refused(f"{media.mime} file holds no video or audio stream", 422, "corrupt_media")
            kind: Kind = "video" if video is not None else "audio"
            if kind != media.kind and media.kind == "video":
                kind = "audio"  # an MP4/WebM holding only sound is an audio recording
            expected = {s.index: s.frames for s in (video, audio) if s is not None and s.frames}
            seen: dict[int, int] = {}
            poster = None
            for packet in c.demux():
                if packet.size == 0:
                    continue
                seen[packet.stream.index] = seen.get(packet.stream.index, 0) + 1
                if poster is None and video is not None and packet.stream.index == video.index:
                    for frame in packet.decode():
                        if isinstance(frame, av.VideoFrame):
                            poster = frame.to_image()  # type: ignore[no-untyped-call]
                            break
            short = [i for i, n in expected.items() if seen.get(i, 0) < n]
            if short:
                raise Refused(f"truncated {media.mime} file: stream {short[0]} has {seen.get(short[0], 0)} of "
                              f"{expected[short[0]]} packets", 422, "corrupt_media")
            if video is not None and poster is None:
                raise Refused(f"no decodable video frame in this {media.mime} file", 422, "corrupt_media")
            duration = _duration(c, video or audio)
            capture = exif.from_container(dict(c.metadata))
            meta = {"format": c.format.name, "video_codec": video.codec_context.name if video else None,
                    "audio_codec": audio.codec_context.name if audio else None, "camera": capture.camera}
    except Refused:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as e:
        raise Refused(f"corrupt or truncated {media.mime} file: {e}", 422, "corrupt_media") from e
    out = Inspection(kind=kind, mime=media.mime, duration_seconds=duration, capture=capture, meta=meta)
    if video is not None and poster is not None:
        out.width, out.height = poster.width, poster.height
        try:
            rgb = poster.convert("RGB")
            out.derived.append(_jpeg(rgb, "poster", PREVIEW_PX, spool))
            out.derived.append(_jpeg(rgb, "thumb", THUMB_PX, spool))
        except BaseException:
            out.discard()
            raise
    return out


def _duration(c: Any, stream: Any) -> float | None:
    if c.duration:
        return round(float(c.duration) / 1_000_000, 3)  # av.time_base: microseconds
    if stream is not None and stream.duration and stream.time_base:
        return round(float(stream.duration * Fraction(stream.time_base)), 3)
    return None
