"""Audit log: verify the chain and read an entity's history (supervisors only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from cityops.audit import service as audit_service
from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.deps import DbSession, allow

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("/verify", summary="Walk the hash chain; report the first broken link")
async def verify(session: DbSession, _: Annotated[Principal, allow(Role.ADMIN, Role.COMMANDER)]) -> dict[str, Any]:
    r = await audit_service.verify(session)
    return {"ok": r.ok, "checked": r.checked, "head_hash": r.head_hash,
            "broken": None if r.broken is None else {"seq": r.broken.seq, "reason": r.broken.reason}}


@router.get("/{entity_type}/{entity_id}", summary="Audit entries of one entity")
async def history(entity_type: str, entity_id: str, session: DbSession,
                  _: Annotated[Principal, allow(Role.ADMIN, Role.COMMANDER)]) -> list[dict[str, Any]]:
    import json

    return [{"seq": e.seq, "at": e.at, "actor_id": e.actor_id, "action": e.action, "data": json.loads(e.data),
             "hash": e.hash} for e in await audit_service.history(session, entity_type, entity_id)]
