"""Open311 rows: API keys of the apps allowed to post, and what a posted request carried beyond the case itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, JSONType, UTCDateTime


class ApiKey(Base):
    """An app's key. Only the SHA-256 is stored; each key reports as its own service user (role resident), so the
    case's reporter and the audit log name the app that posted."""

    __tablename__ = "open311_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))  # shown in listings so an admin can tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    rate_per_minute: Mapped[int] = mapped_column(Integer)
    burst: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Submission(Base):
    """Fields of a POSTed request that the case has no column for: contact details (never published),
    the app's own ids, and the attribute answers. Written only when the request carried any of them."""

    __tablename__ = "open311_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("open311_api_keys.id"))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    email: Mapped[str | None] = mapped_column(String(254))
    device_id: Mapped[str | None] = mapped_column(String(100))
    account_id: Mapped[str | None] = mapped_column(String(100))
    address_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
