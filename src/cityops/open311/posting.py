"""POST requests: an app's report becomes a case in 信息收集 (collection), channel ``open311``.

The case is created by ``case.service.create`` like any other report, as the key's service user, with a fresh
token as its Idempotency-Key: the token is written in the same transaction as the case, so ``tokens/{token}``
resolves as soon as the POST returns. What the case has no column for (e-mail, device and account ids, address_id,
attribute answers) is written next to it in ``open311_submissions``, in the case's own transaction (a ``Related``
row of the intake) — only when the request carried any of it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from pydantic import ValidationError
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.case import service as case_service
from cityops.case.intake import Related
from cityops.case.schemas import CaseCreate
from cityops.errors import AppError
from cityops.geo.models import AreaRow
from cityops.open311.formats import Open311Error
from cityops.open311.keys import KeyHolder
from cityops.open311.models import Submission
from cityops.open311.render import MEDIA_PATH
from cityops.open311.schemas import NewRequest
from cityops.open311.servicetypes import check_answers, notice_for
from cityops.open311.state import state_for
from cityops.runtime import Runtime

_LAYERS = ("grid", "community", "street")  # most specific first


@dataclass(frozen=True)
class Posted:
    service_request_id: str
    token: str
    service_notice: str | None
    account_id: str | None


async def _locate(rt: Runtime, req: NewRequest) -> tuple[float, float]:
    """lat/long as sent; else the area named by address_id (a grid/community/street code, the bureau's addressing
    system) or the most specific area whose name appears in address_string. No geocoder is guessed at."""
    if req.lat is not None and req.lon is not None:
        return req.lat, req.lon
    async with rt.sessionmaker() as session:
        return await _locate_address(session, req)


async def _locate_address(session: AsyncSession, req: NewRequest) -> tuple[float, float]:
    row = None
    if req.address_id:
        found = (await session.execute(select(AreaRow).where(AreaRow.code == req.address_id,
                                                             AreaRow.layer.in_(_LAYERS)))).scalars().all()
        row = min(found, key=lambda a: _LAYERS.index(a.layer), default=None)
        if row is None and not req.address_string:
            raise Open311Error(400, f"address_id {req.address_id!r} is not a grid, community or street code "
                                    "of this district; send lat and long")
    if row is None and req.address_string:
        names = (await session.execute(select(AreaRow.id, AreaRow.layer, AreaRow.name)
                                       .where(AreaRow.layer.in_(_LAYERS)))).all()
        hits = [(i, layer, name) for i, layer, name in names if name and name in req.address_string]
        if hits:
            best = min(hits, key=lambda h: (_LAYERS.index(h[1]), -len(h[2])))
            row = await session.get(AreaRow, best[0])
    if row is None:
        raise Open311Error(400, "address_string names no grid, community or street of this district; "
                                "send lat and long")
    from shapely import wkt

    shape = wkt.loads(row.geometry_wkt)
    # The middle of the area when it lies inside (a ring-shaped area's does not); else a point surely inside.
    point = shape.centroid if shape.intersects(shape.centroid) else shape.representative_point()
    return float(point.y), float(point.x)


async def post(rt: Runtime, *, holder: KeyHolder, req: NewRequest, media: list[str], now: datetime) -> Posted:
    catalog = await state_for(rt).catalog()
    st = catalog.lookup(req.service_code)
    if st is None:
        raise Open311Error(404, f"service_code {req.service_code!r} was not found")
    condition, answers, problems = check_answers(st, req.answers)
    if problems:
        raise Open311Error(400, *problems)
    lat, lon = await _locate(rt, req)
    # Uploaded files take precedence over media_url (v2.1 draft).
    attachments = [MEDIA_PATH + m for m in media] if media else ([req.media_url] if req.media_url else [])
    try:
        data = CaseCreate(
            lat=lat, lon=lon, description=req.description, address=req.address_string,
            category_code=st.category.code, category_kind=st.category.kind,
            condition_code=condition, edition=st.category.edition, channel="open311",
            reporter_name=req.reporter_name, reporter_phone=req.phone, attachments=attachments,
        )
    except ValidationError as e:
        first = e.errors()[0]
        raise Open311Error(400, f"{'.'.join(str(x) for x in first['loc'])}: {first['msg']}") from e
    token = "o311t_" + secrets.token_urlsafe(18)
    extras = [_extras(holder, req, answers, now)] if any((req.email, req.device_id, req.account_id, req.address_id,
                                                          answers)) else []
    try:
        case, _ = await case_service.create(rt, None, data=data, caller=holder.principal, now=now,
                                            idempotency_key=token, fresh_key=True, related=extras)
    except AppError as e:
        field = {"lon": "long", "reporter_phone": "phone", "reporter_name": "first_name"}.get(e.field or "", e.field)
        raise Open311Error(404 if e.status_code == 404 else 400,
                           f"{field}: {e.message}" if field else e.message) from e
    cond = catalog.condition(case.condition_id)
    return Posted(case.case_no, token, notice_for(cond), req.account_id)


def _extras(holder: KeyHolder, req: NewRequest, answers: dict[str, object], now: datetime) -> Related:
    """What the case has no column for; the audit entry names which contact fields came, never their values."""
    row = {"api_key_id": holder.key_id, "attributes": answers, "email": req.email, "device_id": req.device_id,
           "account_id": req.account_id, "address_id": req.address_id, "created_at": now}
    audit = {"api_key_id": holder.key_id, "attributes": sorted(answers),
             "contact": sorted(k for k in ("email", "device_id", "account_id") if row.get(k))}
    return Related(cast(Table, Submission.__table__), row, "open311.submission", audit)
