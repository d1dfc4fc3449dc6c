"""Evidence service: attach a finished upload to a case, decide who sees what, open files, record custody.

Who sees what:
- staff who can see the case (cityops.case.queries.visible): everything, originals included;
- the resident who reported the case: the photos they attached (``resident_photo``), originals included;
- anyone, signed in or not: photos marked ``public``, as thumbnail and EXIF-free preview only.
Every attach, view and export of an original writes an audit entry (chain of custody).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import BinaryIO

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.audit.models import AuditEntry
from cityops.auth.roles import CASE_READERS, Role
from cityops.auth.service import Principal
from cityops.case import queries
from cityops.case import workflow as wf
from cityops.case.models import Case, CaseEvent
from cityops.db import writing
from cityops.errors import Conflict, Forbidden, InvalidInput, NotFound
from cityops.media import rules
from cityops.media.errors import Gone
from cityops.media.events import EvidenceAttached
from cityops.media.models import Blob, Derivative, Evidence, Upload
from cityops.media.schemas import EvidenceAttach
from cityops.media.storage import store_for
from cityops.realtime.events import Audience
from cityops.runtime import Runtime

STAFF = frozenset(CASE_READERS | {Role.DEVICE})


class Access(Enum):
    NONE = 0
    PREVIEW = 1  # thumbnail and preview of a public photo
    FULL = 2  # original, metadata, flags


def is_staff(p: Principal | None) -> bool:
    return p is not None and bool(p.roles & STAFF)


async def _case_if_visible(session: AsyncSession, p: Principal | None, case_id: int) -> Case | None:
    if p is None:
        return None
    try:
        return await queries.get_visible(session, p, case_id)
    except NotFound:
        return None


def access_of(ev: Evidence, blob: Blob, case: Case | None, p: Principal | None) -> Access:
    """``case`` is the evidence's case if the caller can see it, else None."""
    if case is not None and is_staff(p):
        return Access.FULL
    if case is not None and p is not None and case.reporter_id == p.user_id \
            and ev.role == rules.EvidenceRole.RESIDENT_PHOTO:
        return Access.FULL
    if ev.public and blob.kind == "image":
        return Access.PREVIEW
    return Access.NONE


@dataclass(frozen=True)
class Seen:
    evidence: Evidence
    blob: Blob
    derivatives: list[Derivative]
    access: Access


async def attach(rt: Runtime, session: AsyncSession, *, case_id: int, body: EvidenceAttach, caller: Principal,
                 now: datetime) -> tuple[Evidence, bool]:
    """Attach a finished upload to a case. Returns (evidence, created); attaching the same file in the same role
    again returns the first evidence (a phone retrying on 4G)."""
    async with writing(session):
        case = await queries.get_visible(session, caller, case_id)
        if not is_staff(caller) and body.role != rules.EvidenceRole.RESIDENT_PHOTO:
            raise Forbidden("residents attach their photos in the role resident_photo", field="role")
        if case.status in {s.value for s in wf.TERMINAL}:
            raise Conflict(f"case {case.case_no} is {case.status}; evidence can no longer be attached",
                           field="case_id")
        upload = await session.get(Upload, body.upload_id)
        if upload is None or upload.owner_id != caller.user_id:
            raise NotFound(f"no upload {body.upload_id}", field="upload_id")
        if upload.status == "open":
            raise Conflict(f"upload {upload.id} is not finished ({upload.offset} of {upload.length} bytes)",
                           field="upload_id")
        if upload.status != "complete" or upload.expires_at <= now or upload.sha256 is None:
            raise Gone(f"upload {upload.id} cannot be attached (it is {upload.status})", field="upload_id")
        blob = await session.get(Blob, upload.sha256)
        assert blob is not None
        if blob.kind not in rules.ROLE_KINDS[body.role]:
            raise InvalidInput(f"a {blob.kind} file cannot be attached as {body.role.value}; that role takes "
                               f"{', '.join(sorted(rules.ROLE_KINDS[body.role]))}", field="role")
        existing = await session.scalar(select(Evidence).where(Evidence.case_id == case.id,
                                                               Evidence.blob_sha256 == blob.sha256))
        if existing is not None:
            if existing.role != body.role.value:
                raise Conflict(f"this file is already evidence {existing.id} of the case, as {existing.role}",
                               field="upload_id")
            return existing, False
        flags = rules.disagreements(
            rules.Observed(case_lat=case.lat, case_lon=case.lon, reported_at=case.created_at, attached_at=now,
                           file_at=blob.captured_at, file_lat=blob.captured_lat, file_lon=blob.captured_lon,
                           device_at=body.device_time, device_lat=body.lat, device_lon=body.lon),
            place_limit_m=rt.settings.media.place_limit_m,
            time_limit=timedelta(minutes=rt.settings.media.time_limit_minutes))
        ev = Evidence(case_id=case.id, blob_sha256=blob.sha256, upload_id=upload.id, role=body.role.value,
                      filename=upload.filename, uploaded_by=upload.owner_id, attached_by=caller.user_id,
                      attached_at=now, device_time=body.device_time, device_lat=body.lat, device_lon=body.lon,
                      note=body.note, flags=[f.value for f in flags], public=False)
        session.add(ev)
        await session.flush()
        # The case timeline names evidence by id (CaseEvent.attachments); the status does not move.
        event = CaseEvent(case_id=case.id, action="attach_evidence", from_status=case.status, to_status=case.status,
                          actor_id=caller.user_id, actor_role=sorted(caller.roles)[0] if caller.roles else None,
                          at=now, lat=body.lat, lon=body.lon, note=body.note, attachments=[str(ev.id)],
                          data={"evidence_id": ev.id, "role": ev.role, "kind": blob.kind, "flags": ev.flags})
        session.add(event)
        await session.flush()
        ev.case_event_id = event.id
        await audit_service.append(
            session, now=now, actor_id=caller.user_id, action="evidence.attached", entity_type="evidence",
            entity_id=ev.id, data={"case_id": case.id, "sha256": blob.sha256, "size": blob.size, "mime": blob.mime,
                                   "upload_id": upload.id, "role": ev.role, "flags": ev.flags,
                                   "device_time": body.device_time.isoformat() if body.device_time else None,
                                   "lat": body.lat, "lon": body.lon,
                                   "captured_at": blob.captured_at.isoformat() if blob.captured_at else None,
                                   "captured_lat": blob.captured_lat, "captured_lon": blob.captured_lon})
    users = [u for u in (case.reporter_id, case.officer_id, case.inspector_id) if u is not None]
    await rt.bus.send_event([EvidenceAttached(
        case_id=case.id, case_no=case.case_no, evidence_id=ev.id, role=ev.role, kind=blob.kind, flags=ev.flags,
        at=now, audience=Audience(user_ids=users, department_ids=[case.department_id] if case.department_id else []),
    )])
    return ev, True


async def _derivatives(session: AsyncSession, shas: list[str]) -> dict[str, list[Derivative]]:
    out: dict[str, list[Derivative]] = {s: [] for s in shas}
    if shas:
        rows = await session.scalars(select(Derivative).where(Derivative.blob_sha256.in_(shas))
                                     .order_by(Derivative.kind))
        for d in rows:
            out[d.blob_sha256].append(d)
    return out


async def list_for_case(session: AsyncSession, *, case_id: int, caller: Principal | None) -> list[Seen]:
    """The case's evidence the caller may see; someone who cannot see the case gets its public photos only."""
    case = await _case_if_visible(session, caller, case_id)
    q = select(Evidence, Blob).join(Blob, Blob.sha256 == Evidence.blob_sha256).where(Evidence.case_id == case_id)
    if case is None:
        q = q.where(Evidence.public.is_(True), Blob.kind == "image")
    elif not is_staff(caller):
        q = q.where(or_(Evidence.role == rules.EvidenceRole.RESIDENT_PHOTO.value,
                        Evidence.public.is_(True)))
    rows = (await session.execute(q.order_by(Evidence.id))).all()
    ders = await _derivatives(session, [b.sha256 for _, b in rows])
    seen = [Seen(e, b, ders[b.sha256], access_of(e, b, case, caller)) for e, b in rows]
    return [s for s in seen if s.access is not Access.NONE]


async def get(session: AsyncSession, *, evidence_id: int, caller: Principal | None) -> Seen:
    row = (await session.execute(select(Evidence, Blob).join(Blob, Blob.sha256 == Evidence.blob_sha256)
                                 .where(Evidence.id == evidence_id))).first()
    if row is None:
        raise NotFound(f"no evidence {evidence_id}", field="evidence_id")
    ev, blob = row
    case = await _case_if_visible(session, caller, ev.case_id)
    access = access_of(ev, blob, case, caller)
    if access is Access.NONE:
        raise NotFound(f"no evidence {evidence_id}", field="evidence_id")
    return Seen(ev, blob, (await _derivatives(session, [blob.sha256]))[blob.sha256], access)


@dataclass(frozen=True)
class Content:
    sha256: str
    size: int
    mime: str
    extension: str

    def open(self, rt: Runtime) -> BinaryIO:
        return store_for(rt.settings.media_dir).open(self.sha256)


async def original(session: AsyncSession, *, evidence_id: int, caller: Principal, export: bool, record: bool,
                   now: datetime, detail: dict[str, object] | None = None) -> Content:
    """The original file of a piece of evidence. ``record``: write the view/export to the audit log (the views
    skip it for the follow-up Range requests of a player that is already showing the file)."""
    from cityops.media.sniff import extension_of

    seen = await get(session, evidence_id=evidence_id, caller=caller)
    if seen.access is not Access.FULL:
        raise Forbidden("only the preview of this evidence is public", field="evidence_id")
    b = seen.blob
    content = Content(b.sha256, b.size, b.mime, extension_of(b.mime))
    if record:
        async with writing(session):
            await audit_service.append(
                session, now=now, actor_id=caller.user_id, action="evidence.exported" if export else "evidence.viewed",
                entity_type="evidence", entity_id=evidence_id,
                data={"sha256": b.sha256, "case_id": seen.evidence.case_id, **(detail or {})})
    else:
        await session.rollback()
    return content


async def derivative(session: AsyncSession, *, evidence_id: int, kind: str, caller: Principal | None) -> Content:
    seen = await get(session, evidence_id=evidence_id, caller=caller)
    for d in seen.derivatives:
        if d.kind == kind and (seen.access is Access.FULL or kind in ("thumb", "preview")):
            content = Content(d.sha256, d.size, d.mime, "jpg")
            await session.rollback()
            return content
    raise NotFound(f"evidence {evidence_id} has no {kind}", field="kind")


async def set_public(session: AsyncSession, *, evidence_id: int, public: bool, caller: Principal,
                     now: datetime) -> Seen:
    """Show (or stop showing) a photo on the public map."""
    async with writing(session):
        seen = await get(session, evidence_id=evidence_id, caller=caller)
        if seen.access is not Access.FULL or not is_staff(caller):
            raise NotFound(f"no evidence {evidence_id}", field="evidence_id")
        if public and seen.blob.kind != "image":
            raise InvalidInput("only photos can be public", field="public")
        if seen.evidence.public != public:
            seen.evidence.public = public
            await audit_service.append(session, now=now, actor_id=caller.user_id,
                                       action="evidence.published" if public else "evidence.unpublished",
                                       entity_type="evidence", entity_id=evidence_id,
                                       data={"sha256": seen.blob.sha256, "case_id": seen.evidence.case_id})
    return seen


async def custody(session: AsyncSession, *, evidence_id: int, caller: Principal) -> tuple[Seen, list[AuditEntry]]:
    """The chain of custody: audit entries of the upload that brought the bytes in and of the evidence itself."""
    seen = await get(session, evidence_id=evidence_id, caller=caller)
    if seen.access is not Access.FULL or not is_staff(caller):
        raise NotFound(f"no evidence {evidence_id}", field="evidence_id")
    rows = await session.scalars(select(AuditEntry).where(or_(
        (AuditEntry.entity_type == "evidence") & (AuditEntry.entity_id == str(evidence_id)),
        (AuditEntry.entity_type == "upload") & (AuditEntry.entity_id == seen.evidence.upload_id),
    )).order_by(AuditEntry.seq))
    return seen, list(rows)
