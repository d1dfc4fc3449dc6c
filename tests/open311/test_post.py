"""POST requests: a good report becomes a case in 信息收集 with channel open311 that the console sees; every bad one
is refused with the spec's error naming the parameter, and nothing is stored."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cityops.audit.models import AuditEntry
from cityops.case.models import Case
from cityops.open311.models import Submission
from cityops.runtime import Runtime
from open311.o311 import BASE, errors_of, post
from support import World


def _report(w: World, **extra: Any) -> dict[str, Any]:
    lat, lon = w.inside
    return {"service_code": "06010", "lat": str(lat), "long": str(lon), "description": "路边暴露垃圾",
            "attribute[condition]": "01", **extra}


async def _count(rt: Runtime) -> int:
    async with rt.sessionmaker() as s:
        return int(await s.scalar(select(func.count(Case.id))) or 0)


async def _console(client: httpx.AsyncClient, w: World) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/cases", params={"channel": "open311"}, headers=w.h("commander"))
    assert r.status_code == 200
    return list(r.json()["items"])


async def test_a_report_enters_collection_with_channel_open311(client: httpx.AsyncClient, world: World,
                                                               api_key: str, rt: Runtime) -> None:
    w = world
    form = _report(w, **{"attribute[condition]": "02", "attribute[hazards][]": ["recurring", "at_night"],
                         "attribute[quantity]": "3", "attribute[observed_at]": "2026-11-30T07:50:00+08:00",
                         "attribute[landmark]": "新华书店门口", "first_name": "三", "last_name": "张",
                         "phone": "(138) 1234-5678", "email": "zhang@example.org", "device_id": "dev-1",
                         "account_id": "acct-9", "address_string": "新华街 12 号"})
    r = await post(client, api_key, form)
    assert r.status_code == 200, r.text
    (answer,) = r.json()
    assert answer["account_id"] == "acct-9"
    (case,) = await _console(client, w)
    assert case["case_no"] == answer["service_request_id"]
    assert (case["status"], case["channel"], case["step_clock"]["name"]) == ("reported", "open311", "file")
    assert (case["category_code"], case["condition_code"]) == ("06010", "02")
    assert case["grid"] == "测试社区01网格" and case["address"] == "新华街 12 号"
    assert case["reporter_name"] == "张三"  # family name first for a Chinese name
    assert case["reporter_phone"] == "138****5678"  # staff see it masked, as for any report
    async with rt.sessionmaker() as s:
        sub = await s.scalar(select(Submission))
        assert sub is not None and sub.case_id == case["id"]
        assert (sub.email, sub.device_id, sub.account_id) == ("zhang@example.org", "dev-1", "acct-9")
        assert sub.attributes == {"observed_at": "2026-11-30T07:50:00+08:00", "quantity": 3, "landmark": "新华书店门口",
                                  "hazards": ["recurring", "at_night"]}
        actions = (await s.execute(select(AuditEntry.action, AuditEntry.actor_id).where(
            AuditEntry.entity_type == "case", AuditEntry.entity_id == str(case["id"])).order_by(AuditEntry.seq))).all()
    from cityops.auth.models import User

    async with rt.sessionmaker() as s:
        app_user = await s.scalar(select(User).where(User.username == "open311:testapp"))
    assert app_user is not None and app_user.roles == frozenset({"resident"}) and app_user.password_hash is None
    assert actions == [("case.report", app_user.id), ("open311.submission", app_user.id)]


async def test_a_bare_report_stores_no_extras(client: httpx.AsyncClient, world: World, api_key: str,
                                              rt: Runtime) -> None:
    # Empty optional parameters are the same as absent ones.
    r = await post(client, api_key, _report(world, email="", device_id="", address_string="", media_url=""))
    assert r.status_code == 200, r.text
    async with rt.sessionmaker() as s:
        assert await s.scalar(select(func.count(Submission.id))) == 0
    (case,) = await _console(client, world)
    assert case["reporter_name"] == "testapp" and case["address"] is None


def _bad(w: World) -> list[tuple[dict[str, Any], int, str]]:
    base = _report(w)
    no_loc = {k: v for k, v in base.items() if k not in ("lat", "long")}
    return [
        ({k: v for k, v in base.items() if k != "service_code"}, 400, "service_code was not provided"),
        ({**base, "service_code": "99999"}, 404, "service_code '99999' was not found"),
        ({**base, "jurisdiction_id": "elsewhere.gov"}, 404, "jurisdiction_id 'elsewhere.gov' was not found"),
        ({**no_loc, "lat": "35.005"}, 400, "lat and long must be sent together"),
        ({**base, "lat": "abc"}, 400, "lat must be a number from -90 to 90 (WGS84 degrees)"),
        ({**base, "long": "200"}, 400, "long must be a number from -180 to 180 (WGS84 degrees)"),
        ({**base, "lat": "nan"}, 400, "lat must be a number from -90 to 90 (WGS84 degrees)"),
        (no_loc, 400, "a location is required: lat and long, address_string or address_id"),
        ({**base, "lat": str(w.outside[0]), "long": str(w.outside[1])}, 400, "is outside the district's grids"),
        ({**no_loc, "address_id": "999"}, 400, "address_id '999' is not a grid, community or street code"),
        ({**no_loc, "address_string": "火星"}, 400, "address_string names no grid, community or street"),
        ({**base, "description": "x" * 4001}, 400, "description is limited to 4,000 characters (got 4,001)"),
        ({**base, "email": "not-an-email"}, 400, "email is not an e-mail address"),
        ({**base, "phone": "call me"}, 400, "phone must be 3–32 digits"),
        ({**base, "first_name": "x" * 51}, 400, "first_name must be one line of at most 50 characters"),
        ({**base, "media_url": "javascript:alert(1)"}, 400, "media_url must be an http(s) URL"),
        ({**base, "attribute[condition]": "99"}, 400, "attribute[condition] must be one of 01, 02"),
        ({k: v for k, v in base.items() if k != "attribute[condition]"}, 400,
         "attribute[condition] is required: one of 01, 02"),
        ({**base, "attribute[colour]": "red"}, 400, "attribute[colour] is not an attribute of service 06010"),
        ({**base, "attribute[quantity]": "lots"}, 400, "attribute[quantity] must be a number"),
        ({**base, "attribute[quantity]": "-1"}, 400, "attribute[quantity] must be a number from 0 to 1000000"),
        ({**base, "attribute[observed_at]": "2026-11-30"}, 400, "attribute[observed_at] must be a W3C datetime"),
        ({**base, "attribute[hazards][]": ["fire"]}, 400, "attribute[hazards]: 'fire' is not one of"),
        ({**base, "attribute[landmark]": "a\nb"}, 400, "attribute[landmark] must be one line"),
        ({**base, "attributes[x]": "1"}, 400, "attributes[x] is not of the form attribute[code]"),
        ({**base, "service_code": ["06010", "06011"]}, 400, "service_code was sent more than once"),
    ]


async def test_bad_reports_are_refused_and_nothing_is_stored(client: httpx.AsyncClient, world: World,
                                                             api_key: str, rt: Runtime) -> None:
    for form, status, expected in _bad(world):
        before = await _count(rt)
        descs = errors_of(await post(client, api_key, form), status)
        assert any(expected in d for d in descs), (expected, descs)
        assert await _count(rt) == before, expected


async def test_malformed_bodies_are_refused(client: httpx.AsyncClient, world: World, api_key: str) -> None:
    r = await client.post(f"{BASE}/requests.json", content=b"service_code=06010&description=\xff\xfe",
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert errors_of(r, 400) == ["the form is not UTF-8 text"]
    r = await client.post(f"{BASE}/requests.json", json={"service_code": "06010", "api_key": api_key})
    assert errors_of(r, 400)[0].startswith("send the request as application/x-www-form-urlencoded")
    r = await client.post(f"{BASE}/requests.xml", content=b"--x\r\nbroken",
                          headers={"content-type": "multipart/form-data; boundary=x"})
    assert errors_of(r, 403) == ["api_key is required to post a request"]  # nothing readable in it


async def test_description_limit_is_4000_characters(client: httpx.AsyncClient, world: World, api_key: str) -> None:
    r = await post(client, api_key, _report(world, description="垃" * 4000))
    assert r.status_code == 200, r.text


async def test_raw_utf8_and_html_are_kept_as_text(client: httpx.AsyncClient, world: World, api_key: str) -> None:
    text = "<script>alert('x')</script>\n<b>路边</b> & 垃圾\x01"
    body = "&".join(f"{k}={v}" for k, v in _report(world).items() if k != "description")
    raw = (body + "&description=").encode() + text.replace("&", "%26").encode("utf-8") + \
        f"&api_key={api_key}".encode()
    r = await client.post(f"{BASE}/requests.json", content=raw,
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    sid = r.json()[0]["service_request_id"]
    stored = "<script>alert('x')</script>\n<b>路边</b> & 垃圾"  # the control character is dropped
    got = (await client.get(f"{BASE}/requests/{sid}.json")).json()[0]
    assert got["description"] == stored
    xml = (await client.get(f"{BASE}/requests/{sid}.xml")).content
    assert b"&lt;script&gt;" in xml and b"<script>" not in xml
    import xml.etree.ElementTree as ET

    assert ET.fromstring(xml).find("request/description").text == stored  # type: ignore[union-attr]


@pytest.mark.parametrize(("field", "value", "grid"), [
    ("address_id", "41080200100104", "测试社区04网格"),
    ("address_string", "测试社区 测试社区02网格 路口东侧", "测试社区02网格"),
])
async def test_location_by_address(client: httpx.AsyncClient, world: World, api_key: str, field: str, value: str,
                                   grid: str) -> None:
    form = {k: v for k, v in _report(world).items() if k not in ("lat", "long")}
    r = await post(client, api_key, {**form, field: value})
    assert r.status_code == 200, r.text
    (case,) = await _console(client, world)
    assert case["grid"] == grid


async def test_location_by_street_name_lands_inside_it(client: httpx.AsyncClient, world: World,
                                                       api_key: str) -> None:
    form = {k: v for k, v in _report(world).items() if k not in ("lat", "long")}
    r = await post(client, api_key, {**form, "address_string": "测试街道某处"})
    assert r.status_code == 200, r.text
    (case,) = await _console(client, world)
    assert case["street"] == "测试街道" and 35.0 <= case["lat"] <= 35.02 and 113.0 <= case["lon"] <= 113.02


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


async def test_uploaded_photos_become_media_urls(client: httpx.AsyncClient, world: World, api_key: str) -> None:
    png = _png()
    form = {**_report(world, media_url="https://example.org/ignored.jpg"), "api_key": api_key}
    r = await client.post(f"{BASE}/requests.json", data=form,
                          files=[("media[]", ("photo.png", png, "image/png"))])
    assert r.status_code == 200, r.text
    sid = r.json()[0]["service_request_id"]
    got = (await client.get(f"{BASE}/requests/{sid}.json", params={"extensions": "true"})).json()[0]
    import hashlib

    url = f"http://test/open311/v2/media/{hashlib.sha256(png).hexdigest()}.png"
    assert got["media_url"] == url  # files take precedence over media_url
    assert [p["media_url"] for p in got["extended_attributes"]["photos"]] == [url]
    served = await client.get(url)
    assert served.status_code == 200 and served.content == png
    assert served.headers["content-type"] == "image/png" and served.headers["x-content-type-options"] == "nosniff"
    assert errors_of(await client.get(f"{BASE}/media/..%2F..%2Fetc%2Fpasswd"), 404)
    assert errors_of(await client.get(f"{BASE}/media/{'0' * 64}.html"), 404)


async def test_only_images_are_uploaded(client: httpx.AsyncClient, world: World, api_key: str, rt: Runtime) -> None:
    before = await _count(rt)
    form = {**_report(world), "api_key": api_key}
    r = await client.post(f"{BASE}/requests.json", data=form,
                          files=[("media[]", ("page.png", b"<html><script>x</script></html>", "image/png"))])
    assert errors_of(r, 400) == ["media[0]: only JPEG, PNG, GIF or WebP images are accepted"]
    r = await client.post(f"{BASE}/requests.json", data=form, files=[("photo", ("a.png", _png(), "image/png"))])
    assert errors_of(r, 400) == ["file field 'photo': files are sent as media[]"]
    assert await _count(rt) == before


async def test_a_media_url_alone_is_kept(client: httpx.AsyncClient, world: World, api_key: str) -> None:
    r = await post(client, api_key, _report(world, media_url="https://img.example.org/a.jpg"))
    sid = r.json()[0]["service_request_id"]
    got = (await client.get(f"{BASE}/requests/{sid}.json")).json()[0]
    assert got["media_url"] == "https://img.example.org/a.jpg"


async def test_oversized_bodies_are_refused_while_read(client: httpx.AsyncClient, world: World, api_key: str,
                                                       rt: Runtime) -> None:
    before = await _count(rt)
    huge = _report(world, description="x" * 300_000)
    assert errors_of(await post(client, api_key, huge), 400) == ["the request body is larger than 256 KB"]

    async def chunks() -> Any:  # no Content-Length: the limit applies while streaming
        yield f"api_key={api_key}&service_code=06010&description=".encode()
        for _ in range(40):
            yield b"y" * 10_000

    r = await client.post(f"{BASE}/requests.json", content=chunks(),
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert errors_of(r, 400) == ["the request body is larger than 256 KB"]
    assert await _count(rt) == before
