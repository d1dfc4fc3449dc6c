"""Helpers of the Open311 tests: post a form, fetch in both formats, check each against the spec's shapes.

``both()`` is the heart of it: every read is fetched as JSON and as XML, the JSON is validated against the schema
written from the spec, the XML is parsed (declaration, content type, root element), and the XML read back by the
Spark convention must carry exactly the JSON's data.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx
import jsonschema

from open311.spec_schemas import ITEMS

BASE = "/open311/v2"
LOCAL_TZ_SUFFIX = "+08:00"


def validate(schema: dict[str, Any], body: Any) -> None:
    jsonschema.Draft202012Validator(schema).validate(body)


def parse_xml(r: httpx.Response, root: str) -> ET.Element:
    assert r.headers["content-type"] == "text/xml; charset=utf-8", r.headers["content-type"]
    assert r.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>'), r.content[:60]
    el = ET.fromstring(r.content)
    assert el.tag == root, (el.tag, root)
    assert el.attrib == {} and "}" not in el.tag  # schemaless, no namespace
    return el


def spark(el: ET.Element) -> Any:
    """XML → the JSON the Spark convention gives: list elements by their known item names, else objects."""
    children = list(el)
    if el.tag in ITEMS and children:
        assert all(c.tag == ITEMS[el.tag] for c in children), (el.tag, [c.tag for c in children])
        return [spark(c) for c in children]
    if children:
        return {c.tag: spark(c) for c in children}
    return el.text or ""


def flat(value: Any) -> Any:
    """JSON → what its XML text would read: null and [] are empty, true/false/numbers their text."""
    if value is None or value == []:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return {k: flat(v) for k, v in value.items()}
    if isinstance(value, list):
        return [flat(v) for v in value]
    return str(value)


async def both(client: httpx.AsyncClient, path: str, schema: dict[str, Any], root: str, *,
               expect: int = 200, **params: Any) -> Any:
    """GET path.json and path.xml; both must succeed alike and say the same thing. Returns the JSON."""
    rj = await client.get(f"{BASE}/{path}.json", params=params)
    rx = await client.get(f"{BASE}/{path}.xml", params=params)
    assert rj.status_code == expect, rj.text
    assert rx.status_code == expect, rx.text
    assert rj.headers["content-type"] == "application/json; charset=utf-8"
    body = rj.json()
    validate(schema, body)
    xml = spark(parse_xml(rx, root))
    assert xml == flat(body), (xml, flat(body))
    return body


async def post(client: httpx.AsyncClient, key: str | None, data: dict[str, Any], fmt: str = "json", *,
               files: Any = None) -> httpx.Response:
    """POST requests.<fmt> with a form (a list value repeats the field, as for attribute[code][])."""
    form = dict(data)
    if key is not None:
        form["api_key"] = key
    return await client.post(f"{BASE}/requests.{fmt}", data=form, files=files)


def errors_of(r: httpx.Response, status: int) -> list[str]:
    """The descriptions of a spec error response (JSON or XML), after checking its shape and status."""
    assert r.status_code == status, (r.status_code, r.text)
    if r.headers["content-type"].startswith("application/json"):
        body = r.json()
        from open311.spec_schemas import ERRORS

        validate(ERRORS, body)
        assert all(e["code"] == status for e in body)
        return [e["description"] for e in body]
    el = parse_xml(r, "errors")
    errs = spark(el)
    assert errs and all(e["code"] == str(status) for e in errs)
    return [e["description"] for e in errs]
