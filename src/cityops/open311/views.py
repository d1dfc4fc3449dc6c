"""HTTP face of Open311 GeoReport v2 under ``/open311/v2/``; the format is the path's ``.xml`` / ``.json`` suffix.

Every answer under this prefix, errors included, has the spec's shape: errors are a list of ``{code, description}``
with 404 for what does not exist, 403 for a missing or wrong ``api_key`` and 400 for anything else (429 with
Retry-After when a key is over its rate). Parameters are read by ``schemas`` rather than by FastAPI, so a malformed
one is reported in that shape too, never as a 422 or a 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from cityops.auth.service import Principal
from cityops.db import SessionSource
from cityops.deps import DbSession, Now, public
from cityops.errors import AppError
from cityops.open311 import keys, media, posting, service
from cityops.open311.formats import FORMATS, Open311Error, error_response, render, response
from cityops.open311.keys import KeyHolder
from cityops.open311.ratelimit import retry_after_header
from cityops.open311.schemas import (
    Params,
    parse_extensions,
    parse_new_request,
    parse_requests_query,
    parse_updates_query,
)
from cityops.open311.state import state_for
from cityops.runtime import Runtime

log = logging.getLogger(__name__)
PREFIX = "/open311/v2"
_STATUS = {400: 400, 401: 403, 403: 403, 404: 404, 409: 400, 422: 400}
_KNOWN = re.compile(r"^/open311/v2/(discovery|services|requests|servicerequestupdates)(\.[^/]*)?$|"
                    r"^/open311/v2/(services|requests|tokens)/[^/]+$")


def _fmt_of(request: Request) -> str:
    fmt = request.path_params.get("fmt")
    if fmt is None:
        fmt = request.url.path.rpartition(".")[2]
    return fmt if fmt in FORMATS else "xml"


class Open311Route(APIRoute):
    """Turns every refusal into the spec's error list, in the format the caller asked for."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except Open311Error as e:
                return error_response(_fmt_of(request), e, e.headers)
            except AppError as e:
                status = _STATUS.get(e.status_code, 400)
                text = f"{e.field}: {e.message}" if e.field else e.message
                return error_response(_fmt_of(request), Open311Error(status, text))
            except StarletteHTTPException as e:  # e.g. a malformed multipart body
                status = e.status_code if e.status_code in (403, 404) else 400
                return error_response(_fmt_of(request), Open311Error(status, str(e.detail)))
            except RequestValidationError as e:
                first = e.errors()[0] if e.errors() else {"msg": "invalid request"}
                return error_response(_fmt_of(request), Open311Error(400, str(first.get("msg"))))
            except Exception:
                # The spec's "general service error": the client is told to report it; we log it.
                log.exception("open311: unexpected error on %s %s", request.method, request.url.path)
                return error_response(_fmt_of(request), Open311Error(
                    400, "general service error: the request could not be processed; it has been logged"))

        return guarded


router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=Open311Route)
Caller = Annotated[Principal | None, public()]


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(400, f"unknown format {fmt!r}: end the path with .xml or .json")
    return fmt


def _base(request: Request) -> str:
    return str(request.base_url)


async def _key(request: Request, session: SessionSource, value: str | None, *, required: bool) -> KeyHolder | None:
    """Check ``api_key`` (403 when missing where required, or wrong) and draw from its rate bucket (429)."""
    if not value:
        if required:
            raise Open311Error(403, "api_key is required to post a request")
        return None
    holder = await keys.holder_for(session, value)
    if holder is None:
        raise Open311Error(403, "invalid api_key: unknown or revoked")
    decision = await state_for(_rt(request)).limiter.hit(holder.bucket, rate_per_minute=holder.rate_per_minute,
                                                         burst=holder.burst)
    if not decision.allowed:
        raise Open311Error(429, f"api_key {holder.name!r} is over its rate of {holder.rate_per_minute} requests "
                                "per minute; retry later",
                           headers={"Retry-After": retry_after_header(decision.retry_after)})
    return holder


async def _common(request: Request, session: DbSession, fmt: str, p: Params) -> None:
    _format(fmt)
    problems: list[str] = []
    service.check_jurisdiction(_rt(request), p.one("jurisdiction_id", problems))
    await _key(request, session, p.one("api_key", problems), required=False)
    if problems:
        raise Open311Error(400, *problems)


async def _cached(request: Request, key: tuple[Any, ...], fmt: str, root: str,
                  compute: Callable[[], Coroutine[Any, Any, Any]]) -> Response:
    async def body() -> bytes:
        return render(fmt, root, await compute())

    return response(fmt, await state_for(_rt(request)).cache.get_or_compute((*key, fmt, _base(request)), body))


@router.get("/discovery.{fmt}", summary="Service discovery")
async def discovery(request: Request, fmt: str, session: DbSession, now: Now, _: Caller) -> Response:
    p = Params(request.query_params.multi_items())
    await _common(request, session, fmt, p)
    data = await service.discovery(_rt(request), session, base_url=_base(request), now=now)
    return response(fmt, render(fmt, "discovery", data))


@router.get("/services.{fmt}", summary="GET Service List")
async def services(request: Request, fmt: str, session: DbSession, _: Caller) -> Response:
    await _common(request, session, fmt, Params(request.query_params.multi_items()))
    return await _cached(request, ("services",), fmt, "services",
                         lambda: service.services(_rt(request), session))


@router.get("/services/{service_code}.{fmt}", summary="GET Service Definition")
async def service_definition(request: Request, service_code: str, fmt: str, session: DbSession,
                             _: Caller) -> Response:
    await _common(request, session, fmt, Params(request.query_params.multi_items()))
    return await _cached(request, ("definition", service_code), fmt, "service_definition",
                         lambda: service.service_definition(_rt(request), session, service_code=service_code))


async def _form(request: Request) -> tuple[list[tuple[str, Any]], list[tuple[str, UploadFile]], Any]:
    """The POSTed fields and files. URL-encoded bodies are decoded as UTF-8 here (the spec's rule; Starlette would
    read raw non-ASCII bytes as Latin-1); multipart bodies (with media[]) go through Starlette's parser."""
    ctype = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    limit = media.MAX_BODY_BYTES if ctype == "multipart/form-data" else media.MAX_FORM_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Open311Error(400, f"the request body is larger than {limit // 1024:,} KB")
    limited = Request(request.scope, media.limited(request.receive, limit))
    if ctype == "multipart/form-data":
        form = await limited.form(max_files=media.MAX_FILES, max_fields=200)
        fields = [(k, v) for k, v in form.multi_items() if not isinstance(v, UploadFile)]
        files = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile)]
        return fields, files, form
    if ctype not in ("", "application/x-www-form-urlencoded"):
        raise Open311Error(400, "send the request as application/x-www-form-urlencoded "
                                "(or multipart/form-data to upload media[])")
    body = await limited.body()
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200), [], None
    except UnicodeDecodeError:
        raise Open311Error(400, "the form is not UTF-8 text") from None
    except ValueError:
        raise Open311Error(400, "the form has more than 200 fields") from None


@router.post("/requests.{fmt}", summary="POST Service Request (form-encoded, or multipart with media[])")
async def post_request(request: Request, fmt: str, _: Caller) -> Response:
    # No session dependency: the key, catalog and grids are cached and the case is written by the intake's own
    # connection; a session is opened only on a cache miss or to resolve an address. The clock is read directly
    # rather than through one more dependency.
    _format(fmt)
    rt = _rt(request)
    now = rt.clock()
    fields, files, form = await _form(request)
    try:
        p = Params(fields)
        problems: list[str] = []
        service.check_jurisdiction(rt, p.one("jurisdiction_id", problems))
        holder = await _key(request, rt.sessionmaker, p.one("api_key", problems), required=True)
        assert holder is not None
        for name, _f in files:
            if name not in ("media", "media[]"):
                raise Open311Error(400, f"file field {name!r}: files are sent as media[]")
        p.multi = {k: v for k, v in p.multi.items() if k not in ("api_key", "jurisdiction_id")}
        req = parse_new_request(p)
        stored = [await media.store(rt.settings.media_dir, await f.read(media.MAX_FILE_BYTES + 1), f"media[{i}]")
                  for i, (_n, f) in enumerate(files)]
    finally:
        if form is not None:
            await form.close()
    posted = await posting.post(rt, holder=holder, req=req, media=stored, now=now)
    body = [{"service_request_id": posted.service_request_id, "service_notice": posted.service_notice,
             "account_id": posted.account_id}]
    # realtime: the id is in the body; the token (for clients built on the batch flow) rides in a header.
    return response(fmt, render(fmt, "service_requests", body), headers={"Open311-Token": posted.token})


@router.get("/requests.{fmt}", summary="GET Service Requests")
async def list_requests(request: Request, fmt: str, session: DbSession, now: Now, _: Caller) -> Response:
    p = Params(request.query_params.multi_items())
    await _common(request, session, fmt, p)
    q = parse_requests_query(p)
    return await _cached(request, ("requests", q), fmt, "service_requests",
                         lambda: service.list_requests(_rt(request), session, q=q, now=now, base_url=_base(request)))


@router.get("/requests/{service_request_id}.{fmt}", summary="GET Service Request")
async def get_request(request: Request, service_request_id: str, fmt: str, session: DbSession,
                      _: Caller) -> Response:
    p = Params(request.query_params.multi_items())
    await _common(request, session, fmt, p)
    extensions = parse_extensions(p)

    async def one() -> list[dict[str, Any]]:
        return [await service.get_request(_rt(request), session, service_request_id=service_request_id,
                                          base_url=_base(request), extensions=extensions)]

    return await _cached(request, ("request", service_request_id, extensions), fmt, "service_requests", one)


@router.get("/tokens/{token}.{fmt}", summary="GET service_request_id from a token")
async def token(request: Request, token: str, fmt: str, session: DbSession, _: Caller) -> Response:
    await _common(request, session, fmt, Params(request.query_params.multi_items()))
    found = await service.token(session, token=token)
    return response(fmt, render(fmt, "service_requests", [found]))


@router.get("/servicerequestupdates.{fmt}", summary="GET service request updates (FixMyStreet extension)")
async def request_updates(request: Request, fmt: str, session: DbSession, now: Now, _: Caller) -> Response:
    p = Params(request.query_params.multi_items())
    await _common(request, session, fmt, p)
    q = parse_updates_query(p, now)
    data = await service.updates(_rt(request), session, q=q, base_url=_base(request))
    return response(fmt, render(fmt, "service_requests_updates", data))


@router.get("/media/{name}", summary="A photo uploaded with a request")
async def media_file(request: Request, name: str, _: Caller) -> Response:
    path = media.path_of(_rt(request).settings.media_dir, name)
    if path is None:
        raise Open311Error(404, f"media {name!r} was not found")
    return FileResponse(path, media_type=media.TYPES[path.suffix[1:]],
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=31536000"})


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def not_found(request: Request, rest: str, _: Caller) -> Response:
    """Anything else under the prefix: 405 for a known resource with the wrong method, else 404."""
    if _KNOWN.match(request.url.path):
        raise Open311Error(405, f"{request.method} is not allowed on {request.url.path}")
    raise Open311Error(404, f"no such resource: {request.url.path}")
