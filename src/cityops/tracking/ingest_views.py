"""Ingest endpoints: OsmAnd (``/api/v1/osmand`` and ``/`` on the dedicated port), the batch endpoint (NDJSON or a
JSON array) and the field app's WebSocket stream.

The OsmAnd handler reads the raw request itself (no body model): it is the hottest path of the server, and
Traccar Client's answers must be exactly Traccar's — 200 with an empty body when taken (or filtered), 400 for
an unknown device in the query format, 404 in the JSON format, 400 for malformed input, 413 for a large body.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, FastAPI, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from cityops.auth import service as auth_service
from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.deps import RoleGuard, allow
from cityops.errors import AppError, NotAuthenticated, install_handlers
from cityops.runtime import Runtime
from cityops.tracking import batch as batch_format
from cityops.tracking import osmand
from cityops.tracking.ingest import UnknownDevice, count_rejected, ingest
from cityops.tracking.osmand import ProtocolError, RawFix

router = APIRouter(tags=["tracking ingest"])
MAX_SINGLE_BYTES = 64 * 1024
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_BATCH_ITEMS = 20_000
MAX_ERRORS_REPORTED = 20


class BadRequest(AppError):
    status_code = 400
    code = "bad_request"


class TooLarge(AppError):
    status_code = 413
    code = "too_large"


def _rt(request: Request | WebSocket) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _token_of(conn: Request | WebSocket) -> str | None:
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return conn.query_params.get("token") or None


async def _principal(conn: Request | WebSocket, token: str) -> Principal:
    rt = _rt(conn)
    async with rt.sessionmaker() as session:
        try:
            return await auth_service.principal_for(session, token, rt.clock())
        except NotAuthenticated:
            count_rejected(rt, "bad_token")
            raise


class DeviceGuard(RoleGuard):
    """Public, like Traccar's port: the device identifier is the credential. A token, if sent (header or
    ``token`` query parameter), must be valid and belong to the device's officer — checked per fix in ingest.
    No database session is opened unless a token is sent: this guard sits on the hottest path."""

    def __init__(self) -> None:
        super().__init__(frozenset(), public=True)

    async def __call__(self, request: Request) -> Principal | None:
        token = _token_of(request)
        return None if token is None else await _principal(request, token)


class StreamGuard(RoleGuard):
    """The field app's stream: a device token (or the officer's session) in the header or ``token`` parameter.
    Returns None instead of raising, so the socket can be closed with a reason."""

    def __init__(self) -> None:
        super().__init__(frozenset({Role.DEVICE.value, Role.OFFICER.value}))

    async def __call__(self, websocket: WebSocket) -> Principal | None:  # type: ignore[override]
        token = _token_of(websocket)
        if token is None:
            return None
        try:
            p = await _principal(websocket, token)
        except NotAuthenticated:
            return None
        return p if p.roles & self.roles else None


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (a 10 MB upload is never held in memory)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        count_rejected(_rt(request), "too_large")
        raise TooLarge(f"body larger than {limit // 1024} KB", field="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            count_rejected(_rt(request), "too_large")
            raise TooLarge(f"body larger than {limit // 1024} KB", field="body")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_osmand(query: list[tuple[str, str]], body: bytes, content_type: str) -> tuple[list[RawFix], bool]:
    """(fixes, is_json). Traccar's order: query parameters if any, else a JSON body, else a form body."""
    if any(k != "token" for k, _ in query):
        return [osmand.parse_query(query)], False
    text = body.decode("utf-8").strip()
    if "json" in content_type or text[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except ValueError:
            raise ProtocolError("the body is not valid JSON", "body") from None
        return osmand.parse_json(data), True
    return [osmand.parse_query(parse_qsl(text, keep_blank_values=True))], False


async def _osmand(request: Request, caller: Principal | None) -> Response:
    rt = _rt(request)
    now = rt.clock()
    body = await read_limited(request, MAX_SINGLE_BYTES) if request.method == "POST" else b""
    try:
        fixes, is_json = _parse_osmand(request.query_params.multi_items(), body,
                                       request.headers.get("content-type", ""))
    except ProtocolError as e:
        count_rejected(rt, e.reason)
        raise BadRequest(e.message, field=e.field, code=e.reason) from None
    except UnicodeDecodeError:
        count_rejected(rt, "malformed")
        raise BadRequest("the body is not UTF-8", field="body", code="malformed") from None
    try:
        await ingest(rt, fixes, caller=caller, now=now, strict=True)
    except UnknownDevice as e:
        if is_json:
            raise
        raise BadRequest(e.message, field="id", code="unknown_device") from None
    return Response(status_code=200)


_TAKEN: dict[int | str, dict[str, Any]] = {
    200: {"description": "taken (or filtered: see /api/v1/tracking/ingest/stats)"}}


@router.get("/api/v1/osmand", summary="OsmAnd / Traccar Client position report (query string)",
            response_class=Response, responses=_TAKEN)
async def osmand_get(request: Request, caller: Annotated[Principal | None, Depends(DeviceGuard())]) -> Response:
    return await _osmand(request, caller)


@router.post("/api/v1/osmand", summary="OsmAnd / Traccar Client position report (query, form or JSON body)",
             response_class=Response, responses=_TAKEN)
async def osmand_post(request: Request, caller: Annotated[Principal | None, Depends(DeviceGuard())]) -> Response:
    return await _osmand(request, caller)


def _decode_batch(body: bytes, content_type: str) -> list[Any]:
    text = body.decode("utf-8")
    stripped = text.lstrip()
    if "ndjson" in content_type or "jsonlines" in content_type or not stripped.startswith("["):
        items = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except ValueError:
                    raise ProtocolError(f"line {n} is not valid JSON", f"line {n}") from None
        return items
    try:
        data = json.loads(text)
    except ValueError:
        raise ProtocolError("the body is not valid JSON", "body") from None
    return data if isinstance(data, list) else [data]


def _parse_items(items: list[Any], first_index: int = 0) -> tuple[list[RawFix], list[dict[str, Any]], dict[str, int]]:
    fixes: list[RawFix] = []
    errors: list[dict[str, Any]] = []
    rejected: dict[str, int] = {}
    for i, item in enumerate(items, start=first_index):
        try:
            fixes.extend(batch_format.parse_item(item, f"[{i}]"))
        except ProtocolError as e:
            rejected[e.reason] = rejected.get(e.reason, 0) + 1
            if len(errors) < MAX_ERRORS_REPORTED:
                errors.append({"index": i, "field": e.field, "message": e.message})
    return fixes, errors, rejected


async def _take(rt: Runtime, items: list[Any], caller: Principal, now: datetime) -> dict[str, Any]:
    if len(items) > MAX_BATCH_ITEMS:
        count_rejected(rt, "too_large")
        raise TooLarge(f"at most {MAX_BATCH_ITEMS} fixes per batch", field="body")
    fixes, errors, bad = _parse_items(items)
    for reason, n in bad.items():
        count_rejected(rt, reason, n)
    res = await ingest(rt, fixes, caller=caller, now=now)
    out = res.as_dict()
    rejected = dict(res.rejected)
    for reason, n in bad.items():
        rejected[reason] = rejected.get(reason, 0) + n
    out["rejected"] = rejected
    out["errors"] = errors
    return out


@router.post("/api/v1/tracking/positions/batch", summary="Many fixes at once (NDJSON or a JSON array)")
async def batch(request: Request, caller: Annotated[Principal, allow(Role.DEVICE, Role.OFFICER, Role.ADMIN)]
                ) -> dict[str, Any]:
    rt = _rt(request)
    body = await read_limited(request, MAX_BATCH_BYTES)
    content_type = request.headers.get("content-type", "")
    if "ndjson" not in content_type and body[:1] == b"[":
        fast = batch_format.parse_batch_fast(body)
        if fast is not None and len(fast) <= MAX_BATCH_ITEMS:
            return {**(await ingest(rt, fast, caller=caller, now=rt.clock())).as_dict(), "errors": []}
    try:
        items = _decode_batch(body, content_type)
    except ProtocolError as e:
        count_rejected(rt, e.reason)
        raise BadRequest(e.message, field=e.field, code=e.reason) from None
    except UnicodeDecodeError:
        count_rejected(rt, "malformed")
        raise BadRequest("the body is not UTF-8", field="body", code="malformed") from None
    return await _take(rt, items, caller, rt.clock())


@router.websocket("/api/v1/tracking/stream")
async def stream(websocket: WebSocket, caller: Annotated[Principal | None, Depends(StreamGuard())]) -> None:
    """Field app: each text frame is one fix object or an array of them; each gets an ``ack`` with the counts."""
    await websocket.accept()
    if caller is None:
        await websocket.close(code=4401, reason="send a valid device token (header or ?token=)")
        return
    rt = _rt(websocket)
    seq = 0
    try:
        while True:
            text = await websocket.receive_text()
            seq += 1
            if len(text) > MAX_BATCH_BYTES:
                count_rejected(rt, "too_large")
                await websocket.send_json({"type": "error", "seq": seq, "code": "too_large"})
                continue
            try:
                data = json.loads(text)
            except ValueError:
                count_rejected(rt, "malformed")
                await websocket.send_json({"type": "error", "seq": seq, "code": "malformed",
                                           "message": "not valid JSON"})
                continue
            try:
                out = await _take(rt, data if isinstance(data, list) else [data], caller, rt.clock())
            except AppError as e:
                await websocket.send_json({"type": "error", "seq": seq, "code": e.code, "message": e.message})
                continue
            await websocket.send_json({"type": "ack", "seq": seq, **out})
    except WebSocketDisconnect:
        return


def create_osmand_app(rt: Runtime) -> FastAPI:
    """The dedicated port (``--osmand-port``, 5055 like Traccar): a phone set to ``http://host:5055`` works."""
    app = FastAPI(title="cityops OsmAnd", openapi_url=None, docs_url=None, redoc_url=None)
    install_handlers(app)
    app.state.runtime = rt
    app.state.settings = rt.settings
    app.state.sessionmaker = rt.sessionmaker
    app.state.clock = rt.clock

    @app.api_route("/", methods=["GET", "POST"], response_class=Response, summary="OsmAnd position report")
    async def report(request: Request, caller: Annotated[Principal | None, Depends(DeviceGuard())]) -> Response:
        return await _osmand(request, caller)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        import logging

        logging.getLogger(__name__).exception("unhandled error on the OsmAnd port", exc_info=exc)
        return JSONResponse({"error": {"code": "internal_error", "message": "internal error", "field": None}}, 500)

    return app
