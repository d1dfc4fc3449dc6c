"""REST views of evidence: attach to a case, list, read, download with HTTP Range, publish, chain of custody."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, BinaryIO, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from cityops.auth.roles import CASE_READERS, Role
from cityops.auth.service import Principal
from cityops.deps import DbSession, Now, allow, public
from cityops.media import service
from cityops.media.ranges import ByteRange, NotSatisfiable, parse_range
from cityops.media.schemas import (
    Custody,
    CustodyEntry,
    DerivativeRead,
    EvidenceAttach,
    EvidencePage,
    EvidenceRead,
    EvidenceUpdate,
)
from cityops.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["evidence"])

ATTACHERS = (*CASE_READERS, Role.DEVICE, Role.RESIDENT)
VIEWERS = ATTACHERS
PUBLISHERS = (Role.INTAKE, Role.SHIFT_LEAD, Role.COMMANDER, Role.ADMIN)
SUPERVISORS = (Role.INSPECTOR, Role.INTAKE, Role.SHIFT_LEAD, Role.DISPATCHER, Role.COMMANDER, Role.ADMIN,
               Role.DEPARTMENT, Role.OFFICER)
PIECE = 256 * 1024


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _read(s: service.Seen) -> EvidenceRead:
    e, b, full = s.evidence, s.blob, s.access is service.Access.FULL
    base = f"/api/v1/evidence/{e.id}"
    ders = [DerivativeRead(kind=d.kind, url=f"{base}/{d.kind}", sha256=d.sha256, mime=d.mime, width=d.width,
                           height=d.height) for d in s.derivatives if full or d.kind in ("thumb", "preview")]
    return EvidenceRead(
        id=e.id, case_id=e.case_id, role=e.role, kind=b.kind, mime=b.mime, size=b.size, sha256=b.sha256,
        filename=e.filename if full else None, width=b.width, height=b.height, duration_seconds=b.duration_seconds,
        public=e.public, attached_at=e.attached_at, attached_by=e.attached_by if full else None,
        uploaded_by=e.uploaded_by if full else None, device_time=e.device_time if full else None,
        device_lat=e.device_lat if full else None, device_lon=e.device_lon if full else None,
        captured_at=b.captured_at if full else None, captured_lat=b.captured_lat if full else None,
        captured_lon=b.captured_lon if full else None, flags=e.flags if full else [],
        note=e.note if full else None, url=f"{base}/content" if full else None, derivatives=ders,
    )


@router.post("/cases/{case_id}/evidence", status_code=201, response_model=EvidenceRead,
             summary="Attach a finished upload to a case (staff who see the case; the reporter: resident_photo)")
async def attach(request: Request, response: Response, case_id: int, body: EvidenceAttach, session: DbSession,
                 now: Now, caller: Annotated[Principal, allow(*ATTACHERS)]) -> EvidenceRead:
    ev, created = await service.attach(_rt(request), session, case_id=case_id, body=body, caller=caller, now=now)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/evidence/{ev.id}"
    return _read(await service.get(session, evidence_id=ev.id, caller=caller))


@router.get("/cases/{case_id}/evidence", response_model=EvidencePage,
            summary="Evidence of a case visible to the caller (anyone: its public photos)")
async def list_evidence(case_id: int, session: DbSession, caller: Annotated[Principal | None, public()]
                        ) -> EvidencePage:
    return EvidencePage(items=[_read(s) for s in await service.list_for_case(session, case_id=case_id,
                                                                             caller=caller)])


@router.get("/evidence/{evidence_id}", response_model=EvidenceRead, summary="One piece of evidence")
async def get_evidence(evidence_id: int, session: DbSession,
                       caller: Annotated[Principal | None, public()]) -> EvidenceRead:
    return _read(await service.get(session, evidence_id=evidence_id, caller=caller))


@router.patch("/evidence/{evidence_id}", response_model=EvidenceRead, summary="Show a photo on the public map")
async def update_evidence(evidence_id: int, body: EvidenceUpdate, session: DbSession, now: Now,
                          caller: Annotated[Principal, allow(*PUBLISHERS)]) -> EvidenceRead:
    return _read(await service.set_public(session, evidence_id=evidence_id, public=body.public, caller=caller,
                                          now=now))


@router.get("/evidence/{evidence_id}/custody", response_model=Custody,
            summary="Chain of custody: every audit entry of the upload and of the evidence")
async def custody(evidence_id: int, session: DbSession,
                  caller: Annotated[Principal, allow(*SUPERVISORS)]) -> Custody:
    seen, rows = await service.custody(session, evidence_id=evidence_id, caller=caller)
    return Custody(evidence_id=evidence_id, sha256=seen.blob.sha256, entries=[
        CustodyEntry(seq=r.seq, at=r.at, actor_id=r.actor_id, action=r.action, entity_type=r.entity_type,
                     entity_id=r.entity_id, data=r.data, hash=r.hash) for r in rows])


def _pieces(f: BinaryIO, r: ByteRange) -> Iterator[bytes]:
    """Read [start, end] in 256 KiB pieces (Starlette runs a sync iterator in its thread pool)."""
    with f:
        f.seek(r.start)
        left = r.length
        while left > 0:
            piece = f.read(min(PIECE, left))
            if not piece:
                break
            left -= len(piece)
            yield piece


def _serve(request: Request, content: service.Content, filename: str, disposition: str,
           range_header: str | None, if_range: str | None) -> Response:
    etag = f'"{content.sha256}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "private, max-age=31536000, immutable",
               "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
               "Content-Disposition": f'{disposition}; filename="{filename}"'}
    try:
        r = parse_range(range_header, content.size, if_range=if_range, etag=etag)
    except NotSatisfiable:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{content.size}"})
    status = 200 if r is None else 206
    r = r or ByteRange(0, content.size - 1)
    if status == 206:
        headers["Content-Range"] = r.content_range(content.size)
    headers["Content-Length"] = str(r.length)
    return StreamingResponse(_pieces(content.open(_rt(request)), r), status_code=status,
                             media_type=content.mime, headers=headers)


@router.get("/evidence/{evidence_id}/content", summary="The original file (HTTP Range; each view is audited)")
async def content(
    request: Request, evidence_id: int, session: DbSession, now: Now, caller: Annotated[Principal, allow(*VIEWERS)],
    download: Annotated[bool, Query(description="as an attachment: recorded as an export")] = False,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_range: Annotated[str | None, Header(alias="If-Range")] = None,
) -> Response:
    # A player fetching further ranges of a file it already shows is not a new view: only a request from the
    # first byte (or without Range) is recorded.
    continuing = range_header is not None and not range_header.replace(" ", "").lower().startswith("bytes=0-")
    c = await service.original(session, evidence_id=evidence_id, caller=caller, export=download,
                               record=not continuing, now=now, detail={"range": range_header} if range_header else None)
    return _serve(request, c, f"evidence-{evidence_id}.{c.extension}", "attachment" if download else "inline",
                  range_header, if_range)


@router.get("/evidence/{evidence_id}/{kind}", summary="Thumbnail, preview (photos) or poster frame (videos)")
async def derived(
    request: Request, evidence_id: int, kind: Literal["thumb", "preview", "poster"], session: DbSession,
    caller: Annotated[Principal | None, public()],
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    c = await service.derivative(session, evidence_id=evidence_id, kind=kind, caller=caller)
    return _serve(request, c, f"evidence-{evidence_id}-{kind}.jpg", "inline", range_header, None)
