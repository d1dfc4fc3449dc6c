"""The pure rules of the adapter: parameter defaults, masking of personal data, status mappings, W3C datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cityops.case.workflow import Status
from cityops.open311.formats import Open311Error, clean_text, to_json, to_xml, w3c
from cityops.open311.render import FMS_STATUS, STATUS_NAMES, open_or_closed, redact
from cityops.open311.schemas import Params, parse_new_request, parse_requests_query, parse_updates_query
from cityops.open311.servicetypes import parse_w3c


def test_request_query_defaults_are_the_specs() -> None:
    q = parse_requests_query(Params([]))
    assert (q.page, q.page_size, q.extensions, q.default_window) == (1, 1000, False, True)
    # Empty values are the same as absent ones.
    assert parse_requests_query(Params([("status", ""), ("page", ""), ("start_date", "")])) == q
    ids = parse_requests_query(Params([("service_request_id", "a1, b2"), ("service_request_id", "c3")]))
    assert ids.ids == ("a1", "b2", "c3") and not ids.default_window


def test_one_date_means_the_90_days_from_or_before_it() -> None:
    start = parse_requests_query(Params([("start_date", "2026-01-01T00:00:00Z")]))
    assert start.end == datetime(2026, 4, 1, tzinfo=UTC)
    end = parse_requests_query(Params([("end_date", "2026-04-01T08:00:00+08:00")]))
    assert end.start == datetime(2026, 1, 1, tzinfo=UTC)


def test_updates_window_defaults_to_the_last_90_days() -> None:
    now = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
    q = parse_updates_query(Params([]), now)
    assert (q.start, q.end) == (now - timedelta(days=90), now)
    q = parse_updates_query(Params([("start_date", "2026-11-29T00:00:00Z")]), now)
    assert (q.start, q.end) == (datetime(2026, 11, 29, tzinfo=UTC), now)


@pytest.mark.parametrize(("text", "ok"), [
    ("2010-01-01T00:00:00Z", True), ("1994-11-05T08:15:30-05:00", True), ("2026-11-30T08:15:30.5+08:00", True),
    ("2010-01-01T00:00:00", False), ("2010-01-01", False), ("yesterday", False), ("", False),
])
def test_w3c_datetimes_need_a_zone(text: str, ok: bool) -> None:
    assert (parse_w3c(text) is not None) is ok


def test_datetimes_are_written_in_the_bureau_zone() -> None:
    assert w3c(datetime(1994, 11, 5, 13, 15, 30, 999, tzinfo=UTC), ZoneInfo("Asia/Shanghai")) == \
        "1994-11-05T21:15:30+08:00"


def test_personal_data_in_text_is_masked() -> None:
    assert redact("电话13812345678，+86 139-1234-5678") == "电话138****5678，139****5678"
    assert redact("座机 0391-3456789 或 wang.xiao@city.gov.cn") == "座机 0391-******** 或 w***@city.gov.cn"
    assert redact("身份证41080219900101123X") == "身份证410802********123X"
    # Case numbers, amounts and coordinates are not phone numbers.
    assert redact("案卷 2026113000001，罚款 200 元，35.2283") == "案卷 2026113000001，罚款 200 元，35.2283"


def test_every_status_maps_to_open_or_closed_and_to_fixmystreet() -> None:
    assert {s.value for s in Status} == set(STATUS_NAMES) == set(FMS_STATUS)
    assert [s.value for s in Status if open_or_closed(s.value) == "closed"] == ["closed", "evaluated", "voided"]


def test_names_phones_and_every_problem_are_reported() -> None:
    req = parse_new_request(Params([("service_code", "06010"), ("lat", "35"), ("long", "113"),
                                    ("first_name", "三"), ("last_name", "张"), ("phone", "(0391) 345-6789")]))
    assert (req.reporter_name, req.phone) == ("张三", "0391 345-6789")
    req = parse_new_request(Params([("service_code", "x"), ("address_id", "1"), ("first_name", "John"),
                                    ("last_name", "Smith")]))
    assert req.reporter_name == "John Smith"
    with pytest.raises(Open311Error) as e:
        parse_new_request(Params([("lat", "95"), ("email", "x")]))
    assert e.value.status == 400 and [d for _, d in e.value.errors] == [
        "service_code was not provided", "lat must be a number from -90 to 90 (WGS84 degrees)",
        "lat and long must be sent together", "email is not an e-mail address"]


def test_both_formats_carry_the_same_structure_and_escape_text() -> None:
    data = [{"code": 400, "description": "<b>&\x00</b>", "ok": True, "none": None, "values": [{"key": "a"}]}]
    assert to_json(data) == b'[{"code":400,"description":"<b>&</b>","ok":true,"none":null,"values":[{"key":"a"}]}]'
    assert to_xml("errors", data) == (
        b'<?xml version="1.0" encoding="utf-8"?>\n<errors><error><code>400</code>'
        b"<description>&lt;b&gt;&amp;&lt;/b&gt;</description><ok>true</ok><none /><values><value><key>a</key>"
        b"</value></values></error></errors>")
    assert clean_text("a\x01b\tc\n") == "ab\tc\n"


async def test_concurrent_misses_share_one_computation() -> None:
    import asyncio

    from cityops.open311.state import ResponseCache
    from cityops.realtime.bus import Bus

    cache = ResponseCache(Bus())
    calls = 0
    gate = asyncio.Event()

    async def compute() -> bytes:
        nonlocal calls
        calls += 1
        await gate.wait()
        return b"page"

    async def failing() -> bytes:
        raise Open311Error(404, "gone")

    waiting = [asyncio.create_task(cache.get_or_compute("k", compute)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [b"page"] * 5 and calls == 1
    assert await cache.get_or_compute("k", compute) == b"page" and calls == 1  # cached now
    with pytest.raises(Open311Error):
        await cache.get_or_compute("x", failing)
    cache.close()
