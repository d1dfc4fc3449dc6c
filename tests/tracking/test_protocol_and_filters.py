"""The OsmAnd parser and the fix filters, pure (no app, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cityops.tracking.batch import parse_item
from cityops.tracking.filters import Drop, Last, Limits, evaluate
from cityops.tracking.osmand import ProtocolError, parse_json, parse_query, timestamp

T = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
EPOCH = int(T.timestamp())  # 1796025600
LIMITS = Limits(accuracy_m=100, max_speed_mps=55, future_s=600, past_s=172800)


def q(s: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(s, keep_blank_values=True)


@pytest.mark.parametrize("raw", [str(EPOCH), str(EPOCH * 1000), "2026-11-30T08:00:00Z", "2026-11-30T16:00:00+08:00",
                                 "2026-11-30 08:00:00", "2026-11-30T08:00:00.000Z", f"{EPOCH}.0"])
def test_timestamp_spellings(raw: str) -> None:
    assert timestamp(raw) == T


def test_query_units_and_attributes() -> None:
    fix = parse_query(q("id=x1&lat=35.1&lon=113.2&speed=1&bearing=-90&batt=50&charge=false&valid=1&cell=460,0,1,2"
                        "&token=secret"))
    assert fix.speed_mps == pytest.approx(0.514444, abs=1e-6)  # 1 knot
    assert (fix.bearing, fix.battery, fix.charging, fix.valid) == (270.0, 50.0, False, True)
    assert fix.attributes == {"cell": "460,0,1,2"}  # the token is never stored
    assert parse_query(q("id=x1&location=35.1,113.2&id=x2")).device == "x1"  # the first value wins


@pytest.mark.parametrize("raw,field,reason", [
    ("id=x&lat=35", "lon", "malformed"), ("id=x&location=35", "location", "malformed"),
    ("id=x&lat=inf&lon=1", "lat", "malformed"), ("id=x&lat=1e999&lon=1", "lat", "out_of_range"),
    ("id=x&lat=1&lon=2&batt=120", "batt", "out_of_range"), ("id=bad id&lat=1&lon=2", "id", "malformed"),
    ("id=x&lat=1&lon=2&timestamp=1999-12-31T23:59:59Z", "timestamp", "out_of_range"),
])
def test_query_refusals(raw: str, field: str, reason: str) -> None:
    with pytest.raises(ProtocolError) as e:
        parse_query(q(raw))
    assert (e.value.field, e.value.reason) == (field, reason)


def test_json_location_list_and_unknown_markers() -> None:
    body = {"device_id": 123, "location": [
        {"timestamp": "2026-11-30T08:00:00Z", "coords": {"latitude": 35, "longitude": 113, "speed": -1,
                                                         "heading": -1, "accuracy": 3}, "battery": {"level": -1}},
        {"timestamp": EPOCH * 1000, "coords": {"latitude": 35.1, "longitude": 113.1}, "extras": {"alarm": "sos"}}]}
    a, b = parse_json(body)
    assert (a.device, a.speed_mps, a.bearing, a.battery, a.accuracy_m) == ("123", None, None, None, 3.0)
    assert (b.at, b.alarm, b.attributes) == (T, "sos", {"alarm": "sos"})
    with pytest.raises(ProtocolError) as e:
        parse_json({"device_id": "x", "location": [{"coords": {"latitude": 1}}, "nope"]})
    assert e.value.field == "location[0].coords.latitude"
    with pytest.raises(ProtocolError):
        parse_json({"device_id": "x", "location": {"battery": {"level": 2}}})


def test_flat_item() -> None:
    [fix] = parse_item({"device_id": "x", "lat": 35.0, "lon": 113.0, "at": EPOCH, "speed_mps": 3,
                        "attributes": {"k": "v" * 500, "nested": {"no": 1}}}, "[0]")
    assert (fix.at, fix.speed_mps, fix.attributes) == (T, 3.0, {"k": "v" * 200})
    with pytest.raises(ProtocolError) as e:
        parse_item({"device_id": "x", "lat": 35.0, "lon": 200.0}, "[7]")
    assert (e.value.field, e.value.reason) == ("lon", "out_of_range")


def _eval(last: Last | None, t: float, lat: float = 35.0, lon: float = 113.0, acc: float | None = None,
          valid: bool = True) -> tuple[Drop | None, Last | None]:
    return evaluate(last, t, lat, lon, acc, valid, EPOCH, LIMITS)


def test_filters() -> None:
    assert _eval(None, EPOCH) == (None, Last(EPOCH, 35.0, 113.0))
    last = Last(EPOCH - 60, 35.0, 113.0)
    assert _eval(last, EPOCH - 60)[0] is Drop.DUPLICATE
    assert _eval(last, EPOCH, acc=101)[0] is Drop.ACCURACY
    assert _eval(last, EPOCH, acc=100)[0] is None  # the limit itself is fine
    assert _eval(last, EPOCH + 601)[0] is Drop.FUTURE
    assert _eval(last, EPOCH - 172801)[0] is Drop.PAST
    assert _eval(last, EPOCH, valid=False)[0] is Drop.INVALID
    # 60 s after the last fix: 3.25 km is possible (55 m/s × 60 s = 3.3 km), 3.4 km is not
    assert _eval(last, EPOCH, lat=35.0 + 3250 / 111195.08)[0] is None
    assert _eval(last, EPOCH, lat=35.0 + 3400 / 111195.08)[0] is Drop.SPEED
    # an older fix arriving late is kept for history but does not move "last"
    assert _eval(last, EPOCH - 120) == (None, last)


def test_three_jumps_in_a_row_mean_the_last_fix_was_the_glitch() -> None:
    last = Last(EPOCH - 60, 36.0, 113.0)  # a glitch 110 km away was accepted after a long gap
    for jumps in range(3):
        drop, last2 = _eval(last, EPOCH - 50 + jumps)
        assert drop is Drop.SPEED and last2 is not None and last2.jumps == jumps + 1
        last = last2
    drop, last = _eval(last, EPOCH)
    assert drop is None and last == Last(EPOCH, 35.0, 113.0)
