"""Areas (街道 streets, 社区 communities, 单元网格 grids) and road segments (路段), geometry as WKT."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, JSONType


class AreaRow(Base):
    """One table for the three area layers: the lookup walks grid → community → street by parent_id."""

    __tablename__ = "areas"
    __table_args__ = (UniqueConstraint("layer", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layer: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    geometry_wkt: Mapped[str] = mapped_column(Text)
    properties: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)


class RoadSegment(Base):
    __tablename__ = "road_segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    road: Mapped[str | None] = mapped_column(String(100))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    geometry_wkt: Mapped[str] = mapped_column(Text)
    length_m: Mapped[float] = mapped_column(Float)
    properties: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
