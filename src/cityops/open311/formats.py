"""Wire formats of GeoReport v2: one Python structure, written as JSON or as XML by the same rules.

The spec derives its JSON from the XML by the Spark convention: a list is an element whose children are its items
(``<services><service>…``), a dict is an element with one child per key, null is an empty element. XML is built
with ElementTree, so user text is always escaped by the library; characters XML 1.0 cannot carry (most C0
controls) are dropped on the way out. Datetimes are W3C (ISO 8601 subset) with the zone, as the spec requires.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, tzinfo
from typing import Any

from starlette.responses import Response

FORMATS = ("xml", "json")
MEDIA_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
_XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'

# The element name of one item of each list, by the list's name (Spark convention: plural → singular).
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "service_requests_updates": "request_update",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "photos": "photo",
    "notes": "note",
}

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Open311Error(Exception):
    """A refusal in the spec's shape: an HTTP status and a list of (code, description)."""

    def __init__(self, status: int, *errors: str | tuple[int, str], headers: dict[str, str] | None = None) -> None:
        super().__init__("; ".join(e if isinstance(e, str) else e[1] for e in errors))
        self.status = status
        self.errors = [(status, e) if isinstance(e, str) else e for e in errors]
        self.headers = headers


def clean_text(value: str) -> str:
    """Drop characters XML 1.0 cannot carry (both on input and output: one rule for both formats)."""
    return _NOT_XML.sub("", value)


def w3c(value: datetime | None, tz: tzinfo) -> str | None:
    """``2026-11-30T08:15:30+08:00``: the bureau's zone, whole seconds."""
    if value is None:
        return None
    return value.astimezone(tz).isoformat(timespec="seconds")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return clean_text(str(value))


def _fill(parent: ET.Element, name: str, value: Any) -> None:
    el = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for k, v in value.items():
            _fill(el, k, v)
    elif isinstance(value, list):
        item = ITEM_NAMES.get(name, "item")
        for v in value:
            _fill(el, item, v)
    else:
        el.text = _text(value)


def to_xml(root: str, data: Any) -> bytes:
    el = ET.Element(root)
    if isinstance(data, list):
        item = ITEM_NAMES[root]
        for v in data:
            _fill(el, item, v)
    else:
        for k, v in data.items():
            _fill(el, k, v)
    return (_XML_DECLARATION + ET.tostring(el, encoding="unicode")).encode()


def _json_clean(data: Any) -> Any:
    if isinstance(data, str):
        return clean_text(data)
    if isinstance(data, dict):
        return {k: _json_clean(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_json_clean(v) for v in data]
    return data


def to_json(data: Any) -> bytes:
    return json.dumps(_json_clean(data), ensure_ascii=False, separators=(",", ":")).encode()


def render(fmt: str, root: str, data: Any) -> bytes:
    return to_xml(root, data) if fmt == "xml" else to_json(data)


def response(fmt: str, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=MEDIA_TYPES[fmt], headers=headers)


def error_response(fmt: str, err: Open311Error, headers: dict[str, str] | None = None) -> Response:
    body = [{"code": code, "description": desc} for code, desc in err.errors]
    return response(fmt if fmt in FORMATS else "xml", render(fmt if fmt in FORMATS else "xml", "errors", body),
                    err.status, headers)
