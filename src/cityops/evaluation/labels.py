"""Display names for group keys (areas, departments, people, categories), fetched in one query per kind."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.auth.models import User
from cityops.catalog.models import Category
from cityops.geo.models import AreaRow
from cityops.org.models import Department

CHANNELS_ZH = {"inspector": "监督员上报", "public": "公众上报", "hotline": "热线", "open311": "Open311",
               "video": "视频", "console": "坐席", "referral": "转办"}


class Labels:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session
        self._cache: dict[str, dict[Any, str]] = {}

    async def load(self, kind: str, keys: Iterable[Any]) -> dict[Any, str]:
        have = self._cache.setdefault(kind, {})
        want = {k for k in keys if k is not None and k not in have}
        if want:
            if kind in ("street", "community", "grid", "area"):
                q = select(AreaRow.id, AreaRow.name).where(AreaRow.id.in_(want))
            elif kind == "department":
                q = select(Department.id, Department.name).where(Department.id.in_(want))
            elif kind in ("officer", "user", "inspector", "intake", "dispatcher"):
                q = select(User.id, User.display_name).where(User.id.in_(want))
            elif kind == "category":
                rows = (await self.s.execute(select(Category.id, Category.code, Category.name)
                                             .where(Category.id.in_(want)))).all()
                have.update({i: f"{code} {name}" for i, code, name in rows})
                q = None
            else:
                q = None
            if q is not None:
                have.update(dict((await self.s.execute(q)).all()))
        return have

    async def name(self, kind: str, key: Any) -> str:
        if key is None:
            return {"department": "（未派遣）", "officer": "（未指派）", "category": "（未分类）"}.get(kind, "（无）")
        if kind == "channel":
            return CHANNELS_ZH.get(str(key), str(key))
        got = (await self.load(kind, [key])).get(key)
        return got if got is not None else f"#{key}"
