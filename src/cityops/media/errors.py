"""The extra HTTP statuses tus and media checks need, as typed errors mapped by cityops.errors like all others."""

from __future__ import annotations

from cityops.errors import AppError
from cityops.media.sniff import Refused


class ChecksumMismatch(AppError):
    status_code = 460  # tus checksum extension: "Checksum Mismatch"
    code = "checksum_mismatch"


class Gone(AppError):
    status_code = 410
    code = "gone"


class Locked(AppError):
    status_code = 423
    code = "locked"


class TooLarge(AppError):
    status_code = 413
    code = "too_large"


class UnsupportedMedia(AppError):
    status_code = 415
    code = "unsupported_media_type"


class MediaRefused(AppError):
    status_code = 422
    code = "media_refused"


def from_refusal(r: Refused, field: str = "file") -> AppError:
    cls = {413: TooLarge, 415: UnsupportedMedia}.get(r.status, MediaRefused)
    return cls(r.message, field=field, code=r.code)
