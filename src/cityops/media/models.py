"""Tables of the evidence store: tus uploads, stored blobs (by SHA-256), their derivatives, and evidence on cases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, JSONType, UTCDateTime

# Integer on SQLite keeps its rowid-style affinity; BIGINT elsewhere (videos pass 2 GiB).
Big = BigInteger().with_variant(Integer(), "sqlite")


class Upload(Base):
    """One tus upload. Its bytes live in the spool (``<media_dir>/uploads/<id>.part``) until it completes."""

    __tablename__ = "media_uploads"
    __table_args__ = (
        Index("ix_media_uploads_owner", "owner_id"),
        Index("ix_media_uploads_expiry", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # 128 random bits, hex
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    length: Mapped[int] = mapped_column(Big)
    offset: Mapped[int] = mapped_column(Big, default=0)
    status: Mapped[str] = mapped_column(String(16))  # open | complete | failed | expired | terminated
    metadata_header: Mapped[str | None] = mapped_column(Text)  # Upload-Metadata exactly as sent (HEAD echoes it)
    filename: Mapped[str | None] = mapped_column(String(255))  # a label only: never part of a path
    mime: Mapped[str | None] = mapped_column(String(100))  # from magic bytes
    kind: Mapped[str | None] = mapped_column(String(8))  # image | video | audio
    sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Blob(Base):
    """Stored bytes, named by their SHA-256: the same photo uploaded twice is one row and one file."""

    __tablename__ = "media_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Big)
    mime: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(8))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    # When and where the file says it was recorded (EXIF for photos, container tags for videos).
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    captured_lat: Mapped[float | None] = mapped_column(Float)
    captured_lon: Mapped[float | None] = mapped_column(Float)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Derivative(Base):
    """A file made from a blob (thumbnail, preview, video poster frame); hashed and stored like the original."""

    __tablename__ = "media_derivatives"
    __table_args__ = (UniqueConstraint("blob_sha256", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("media_blobs.sha256", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # thumb | preview | poster
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Big)
    mime: Mapped[str] = mapped_column(String(100))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


class Evidence(Base):
    """A blob attached to a case in a role (before / during / after handling, resident photo, audio note)."""

    __tablename__ = "media_evidence"
    __table_args__ = (UniqueConstraint("case_id", "blob_sha256"), Index("ix_media_evidence_case", "case_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("media_blobs.sha256"))
    upload_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str | None] = mapped_column(String(255))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    attached_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    attached_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # What the client says: when and where the device was when recording.
    device_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    device_lat: Mapped[float | None] = mapped_column(Float)
    device_lon: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    case_event_id: Mapped[int | None] = mapped_column(Integer)
