"""What a file is, decided by its magic bytes (the ``filetype`` library), never by its name or declared type.

Only the allow-list below is accepted; everything else (executables, archives, documents, HEIC we cannot decode
yet) is refused with the type we saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import filetype  # type: ignore[import-untyped]

from cityops.config import MediaLimits

Kind = Literal["image", "video", "audio"]
# How much of the head the detector looks at (filetype reads at most 8 KiB; its matchers need far less).
SNIFF_BYTES = 8192

# mime (as filetype names it) → (kind, file extension used in download names)
ALLOWED: dict[str, tuple[Kind, str]] = {
    "image/jpeg": ("image", "jpg"),
    "image/png": ("image", "png"),
    "image/webp": ("image", "webp"),
    "video/mp4": ("video", "mp4"),
    "video/quicktime": ("video", "mov"),
    "video/webm": ("video", "webm"),
    "video/x-matroska": ("video", "mkv"),
    "video/3gpp": ("video", "3gp"),
    "audio/mp4": ("audio", "m4a"),
    "audio/mpeg": ("audio", "mp3"),
    "audio/aac": ("audio", "aac"),
    "audio/ogg": ("audio", "ogg"),
    "audio/x-wav": ("audio", "wav"),
    "audio/amr": ("audio", "amr"),
    "audio/x-flac": ("audio", "flac"),
}


@dataclass(frozen=True)
class MediaType:
    mime: str
    kind: Kind
    extension: str


class Refused(Exception):
    """The bytes are not acceptable evidence; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422, code: str = "media_refused") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


def detect(head: bytes) -> MediaType:
    """Type of a file from its first bytes; raises Refused (415) for anything outside the allow-list."""
    guess = filetype.guess(head[:SNIFF_BYTES]) if head else None
    if guess is None:
        raise Refused("unrecognised file type: evidence must be a photo, video or audio recording", 415,
                      "unsupported_media_type")
    allowed = ALLOWED.get(guess.mime)
    if allowed is None:
        raise Refused(f"file type {guess.mime} is not accepted as evidence (photos, videos and audio only)", 415,
                      "unsupported_media_type")
    return MediaType(guess.mime, allowed[0], allowed[1])


def limit_for(kind: Kind, limits: MediaLimits) -> int:
    return {"image": limits.max_image_bytes, "video": limits.max_video_bytes, "audio": limits.max_audio_bytes}[kind]


def max_size(limits: MediaLimits) -> int:
    """The largest upload of any kind (tus ``Tus-Max-Size``)."""
    return max(limits.max_image_bytes, limits.max_video_bytes, limits.max_audio_bytes)


def check_size(media: MediaType, length: int, limits: MediaLimits) -> None:
    limit = limit_for(media.kind, limits)
    if length > limit:
        raise Refused(f"{media.kind} files may be at most {limit} bytes; this one is {length}", 413, "too_large")


def kind_of(mime: str) -> Kind:
    return ALLOWED[mime][0]


def extension_of(mime: str) -> str:
    return ALLOWED[mime][1] if mime in ALLOWED else "bin"
