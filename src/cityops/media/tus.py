"""tus 1.0.0 resumable uploads under /api/v1/uploads: core, creation, creation-with-upload, termination, checksum,
expiration (https://tus.io/protocols/resumable-upload). Works with tus-js-client and tuspy.

This module speaks the protocol (headers in, headers out); the work is in uploads.py. Every response, errors
included, carries ``Tus-Resumable`` (``TusRoute``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect

from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.deps import DbSession, Now, allow, public
from cityops.errors import AppError, error_body
from cityops.media import sniff, uploads
from cityops.media.errors import UnsupportedMedia
from cityops.media.schemas import UploadRead
from cityops.media.state import UploadView
from cityops.runtime import Runtime

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
OFFSET_CT = "application/offset+octet-stream"
UPLOADERS = tuple(Role)  # every signed-in user, and body cameras with a device token
MAX_METADATA = 4096


class PreconditionFailed(AppError):
    status_code = 412
    code = "unsupported_tus_version"


class BadHeader(AppError):
    """tus answers malformed protocol headers (and unknown checksum algorithms) with 400."""

    status_code = 400
    code = "bad_request"


class TusRoute(APIRoute):
    """Adds the tus headers to every response of this router, including errors raised before the endpoint ran
    (authentication, role guard)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await inner(request)
            except AppError as exc:
                response = JSONResponse(error_body(exc.code, exc.message, exc.field), exc.status_code)
                if exc.status_code == 401:
                    response.headers["WWW-Authenticate"] = "Bearer"
                if exc.status_code == 412:
                    response.headers["Tus-Version"] = TUS_VERSION
            response.headers["Tus-Resumable"] = TUS_VERSION
            return response

        return handler


router = APIRouter(prefix="/api/v1/uploads", tags=["uploads (tus)"], route_class=TusRoute)


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _require_tus(value: str | None) -> None:
    if value != TUS_VERSION:
        raise PreconditionFailed(f"this server speaks tus {TUS_VERSION}; send 'Tus-Resumable: {TUS_VERSION}'",
                                 field="Tus-Resumable")


def _integer(name: str, value: str | None) -> int:
    if value is None or not re.fullmatch(r"\d{1,19}", value.strip()):
        raise BadHeader(f"{name} must be a non-negative integer", field=name)
    return int(value)


def parse_metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata: filename ZG9nLmpwZw==,is_confidential`` → {"filename": "dog.jpg", "is_confidential": ""}"""
    if not header:
        return {}
    if len(header) > MAX_METADATA:
        raise BadHeader(f"Upload-Metadata is longer than {MAX_METADATA} characters", field="Upload-Metadata")
    out: dict[str, str] = {}
    for pair in header.split(","):
        key, _, value = pair.strip().partition(" ")
        if not key or not re.fullmatch(r"[!-~]+", key) or key in out:
            raise BadHeader("Upload-Metadata keys must be unique, non-empty ASCII without spaces or commas",
                               field="Upload-Metadata")
        try:
            raw = base64.b64decode(value.strip(), validate=True) if value.strip() else b""
        except (binascii.Error, ValueError):
            raise BadHeader(f"Upload-Metadata value of {key!r} is not base64", field="Upload-Metadata") from None
        out[key] = raw.decode("utf-8", "replace")
    return out


def label_of(meta: dict[str, str]) -> str | None:
    """The client's file name, as a label only: last path segment, control characters dropped, 200 chars max."""
    name = meta.get("filename") or meta.get("name")
    if not name:
        return None
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or None


def parse_checksum(header: str | None) -> uploads.Checksum | None:
    if header is None:
        return None
    algorithm, _, value = header.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in uploads.CHECKSUMS:
        raise BadHeader(f"checksum algorithm {algorithm!r} is not supported; use one of "
                           f"{', '.join(uploads.CHECKSUMS)}", field="Upload-Checksum")
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadHeader("Upload-Checksum value is not base64", field="Upload-Checksum") from None
    if len(digest) != uploads.CHECKSUMS[algorithm]().digest_size:
        raise BadHeader(f"Upload-Checksum is not a {algorithm} digest", field="Upload-Checksum")
    return uploads.Checksum(algorithm, digest)


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body as it arrives; a dropped connection simply ends it (what arrived is kept)."""
    try:
        async for piece in request.stream():
            if piece:
                yield piece
    except ClientDisconnect:
        return


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def _progress_headers(u: UploadView) -> dict[str, str]:
    h = {"Upload-Offset": str(u.offset)}
    if u.status == "open":
        h["Upload-Expires"] = format_datetime(u.expires_at, usegmt=True)
    if u.sha256:
        h["Upload-Sha256"] = u.sha256  # not tus: lets the client record the content hash it can later prove
    return h


@router.options("", status_code=204, summary="tus discovery: version, extensions, limits")
async def options(request: Request, _: Annotated[Principal | None, public()]) -> Response:
    return Response(status_code=204, headers={
        "Tus-Version": TUS_VERSION, "Tus-Extension": EXTENSIONS,
        "Tus-Max-Size": str(sniff.max_size(_rt(request).settings.media)),
        "Tus-Checksum-Algorithm": ",".join(uploads.CHECKSUMS),
    })


@router.post("", status_code=201, summary="tus creation (and creation-with-upload)")
async def create(
    request: Request, session: DbSession, now: Now, caller: Annotated[Principal, allow(*UPLOADERS)],
    tus_resumable: Annotated[str | None, Header()] = None,
    upload_length: Annotated[str | None, Header()] = None,
    upload_metadata: Annotated[str | None, Header()] = None,
    upload_defer_length: Annotated[str | None, Header()] = None,
    upload_checksum: Annotated[str | None, Header()] = None,
    content_type: Annotated[str | None, Header()] = None,
) -> Response:
    _require_tus(tus_resumable)
    if upload_defer_length is not None:
        raise BadHeader("Upload-Defer-Length is not supported: send Upload-Length", field="Upload-Defer-Length")
    length = _integer("Upload-Length", upload_length)
    meta = parse_metadata(upload_metadata)
    with_body = (content_type or "").split(";")[0].strip().lower() == OFFSET_CT
    up = await uploads.create(
        _rt(request), session, caller=caller, length=length, metadata_header=upload_metadata,
        filename=label_of(meta), now=now, body=_body(request) if with_body else None,
        checksum=parse_checksum(upload_checksum) if with_body else None,
        content_length=_content_length(request) if with_body else None,
    )
    headers = {"Location": f"{router.prefix}/{up.id}", **_progress_headers(up)}
    if not with_body:
        headers.pop("Upload-Offset")
    return Response(status_code=201, headers=headers)


@router.head("/{upload_id}", summary="tus: the offset to resume from")
async def head(request: Request, upload_id: str, session: DbSession, now: Now,
               caller: Annotated[Principal, allow(*UPLOADERS)],
               tus_resumable: Annotated[str | None, Header()] = None) -> Response:
    _require_tus(tus_resumable)
    up = await uploads.status(_rt(request), session, upload_id=upload_id, caller=caller, now=now)
    headers = {**_progress_headers(up), "Upload-Length": str(up.length), "Cache-Control": "no-store"}
    if up.metadata_header:
        headers["Upload-Metadata"] = up.metadata_header
    return Response(status_code=200, headers=headers)


@router.patch("/{upload_id}", status_code=204, summary="tus: append a chunk at Upload-Offset")
async def patch(
    request: Request, upload_id: str, session: DbSession, now: Now, caller: Annotated[Principal, allow(*UPLOADERS)],
    tus_resumable: Annotated[str | None, Header()] = None,
    upload_offset: Annotated[str | None, Header()] = None,
    upload_checksum: Annotated[str | None, Header()] = None,
    content_type: Annotated[str | None, Header()] = None,
) -> Response:
    _require_tus(tus_resumable)
    if (content_type or "").split(";")[0].strip().lower() != OFFSET_CT:
        raise UnsupportedMedia(f"PATCH needs 'Content-Type: {OFFSET_CT}'", field="Content-Type")
    offset = _integer("Upload-Offset", upload_offset)
    up = await uploads.append(_rt(request), session, upload_id=upload_id, caller=caller, offset=offset,
                              checksum=parse_checksum(upload_checksum), body=_body(request),
                              content_length=_content_length(request), now=now)
    return Response(status_code=204, headers=_progress_headers(up))


@router.delete("/{upload_id}", status_code=204, summary="tus termination")
async def delete(request: Request, upload_id: str, session: DbSession, now: Now,
                 caller: Annotated[Principal, allow(*UPLOADERS)],
                 tus_resumable: Annotated[str | None, Header()] = None) -> Response:
    _require_tus(tus_resumable)
    await uploads.terminate(_rt(request), session, upload_id=upload_id, caller=caller, now=now)
    return Response(status_code=204)


@router.get("/{upload_id}", response_model=UploadRead, summary="An upload's state as JSON (not part of tus)")
async def read(request: Request, upload_id: str, session: DbSession, now: Now,
               caller: Annotated[Principal, allow(*UPLOADERS)]) -> UploadRead:
    up = await uploads.read(session, upload_id=upload_id, caller=caller)
    return UploadRead(id=up.id, status=up.status, length=up.length, offset=up.offset, filename=up.filename,
                      mime=up.mime, kind=up.kind, sha256=up.sha256, error=up.error, created_at=up.created_at,
                      expires_at=up.expires_at, completed_at=up.completed_at)
