"""Classification catalog rows: editions, categories (大类/小类) and filing conditions (立案条件)."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, JSONType


class Edition(Base):
    __tablename__ = "catalog_editions"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    code_format: Mapped[str | None] = mapped_column(String(200))


class Category(Base):
    __tablename__ = "categories"
    # Codes repeat across kinds (old 0102 is both 污水井盖 and 暴露垃圾), so kind is part of the key.
    __table_args__ = (UniqueConstraint("edition", "kind", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edition: Mapped[str] = mapped_column(ForeignKey("catalog_editions.code"))
    code: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # component 部件 | event 事件/事项
    level: Mapped[str] = mapped_column(String(16))  # class 大类 | subclass 小类
    parent_code: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(100))
    department_code: Mapped[str | None] = mapped_column(String(32))
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)


class FilingCondition(Base):
    __tablename__ = "filing_conditions"
    __table_args__ = (UniqueConstraint("category_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    deadline_value: Mapped[float] = mapped_column(Float)
    deadline_unit: Mapped[str] = mapped_column(String(16))
    closing_condition: Mapped[str] = mapped_column(Text, default="")
    department_code: Mapped[str | None] = mapped_column(String(32))
