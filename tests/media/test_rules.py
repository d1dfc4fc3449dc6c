"""Pure pieces, with values worked out by hand: disagreement flags, HTTP Range, EXIF/ISO 6709 parsing, tus headers,
magic-byte typing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cityops.config import MediaLimits
from cityops.media import rules, sniff
from cityops.media.exif import dms_to_degrees, parse_container_time, parse_exif_time, parse_iso6709
from cityops.media.ranges import ByteRange, NotSatisfiable, parse_range
from cityops.media.tus import BadHeader, label_of, parse_checksum, parse_metadata
from media.helpers import executable, jpeg, mp4, png_bomb, wav

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # reported at 09:00 Beijing time
LIMIT = timedelta(minutes=120)


def _obs(**kw: object) -> rules.Observed:
    base: dict[str, object] = {"case_lat": 35.0, "case_lon": 113.0, "reported_at": T0,
                               "attached_at": T0 + timedelta(hours=3)}
    return rules.Observed(**{**base, **kw})  # type: ignore[arg-type]


def test_distance() -> None:
    # 0.01° of latitude is 1/100 of 111.195 km (mean Earth radius 6371.0088 km).
    assert rules.distance_m(35.0, 113.0, 35.01, 113.0) == pytest.approx(1111.95, abs=0.05)
    # Along a parallel it shrinks with cos(35°) = 0.81915.
    assert rules.distance_m(35.0, 113.0, 35.0, 113.01) == pytest.approx(910.85, abs=0.5)


@pytest.mark.parametrize(("claims", "flags"), [
    ({}, []),
    ({"file_lat": 35.002, "file_lon": 113.0}, []),  # 222 m: inside 300 m
    ({"file_lat": 35.003, "file_lon": 113.0}, ["exif_place_far"]),  # 334 m
    ({"file_at": T0 - timedelta(minutes=119)}, []),
    ({"file_at": T0 - timedelta(minutes=121)}, ["exif_time_outside_case"]),  # long before the report
    ({"file_at": T0 + timedelta(hours=5, minutes=1)}, ["exif_time_outside_case"]),  # after attach + 2 h
    ({"file_at": T0, "device_at": T0 + timedelta(minutes=121)}, ["exif_device_time_mismatch"]),
    ({"file_lat": 35.0, "file_lon": 113.0, "device_lat": 35.0, "device_lon": 113.004},
     ["exif_device_place_mismatch", "device_place_far"]),  # device 364 m east of both
    ({"device_at": T0 + timedelta(hours=6)}, ["device_time_outside_case"]),
])
def test_disagreements(claims: dict[str, object], flags: list[str]) -> None:
    got = rules.disagreements(_obs(**claims), place_limit_m=300, time_limit=LIMIT)
    assert [f.value for f in got] == flags


def test_role_kinds() -> None:
    assert rules.ROLE_KINDS[rules.EvidenceRole.RESIDENT_PHOTO] == {"image"}
    assert rules.ROLE_KINDS[rules.EvidenceRole.AUDIO_NOTE] == {"audio"}
    assert "audio" in rules.ROLE_KINDS[rules.EvidenceRole.DURING]


@pytest.mark.parametrize(("header", "expected"), [
    (None, None),
    ("bytes=0-9", ByteRange(0, 9)),
    ("bytes=90-", ByteRange(90, 99)),
    ("bytes=90-500", ByteRange(90, 99)),  # clipped to the end
    ("bytes=-10", ByteRange(90, 99)),
    ("bytes=-500", ByteRange(0, 99)),
    ("bytes=0-9,20-29", None),  # several ranges: the whole file
    ("items=0-9", None),
    ("bytes=9-0", None),
    ("bytes=a-b", None),
])
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 100) == expected


def test_range_past_the_end_and_if_range() -> None:
    for header in ("bytes=100-", "bytes=100-200", "bytes=-0"):
        with pytest.raises(NotSatisfiable):
            parse_range(header, 100)
    assert parse_range("bytes=0-9", 100, if_range='"old"', etag='"new"') is None
    assert parse_range("bytes=0-9", 100, if_range='"new"', etag='"new"') == ByteRange(0, 9)
    assert ByteRange(0, 9).content_range(100) == "bytes 0-9/100" and ByteRange(0, 9).length == 10


def test_exif_parsing() -> None:
    bj = timezone(timedelta(hours=8))
    assert parse_exif_time("2026:11:30 09:15:30", None, bj) == datetime(2026, 11, 30, 1, 15, 30, tzinfo=UTC)
    assert parse_exif_time("2026:11:30 09:15:30", "-05:00", bj) == datetime(2026, 11, 30, 14, 15, 30, tzinfo=UTC)
    assert parse_exif_time("0000:00:00 00:00:00", None, bj) is None
    assert parse_exif_time(b"junk", None, bj) is None
    assert dms_to_degrees((35, 30, 36), "N") == pytest.approx(35.51)
    assert dms_to_degrees((113, 0, 36), "W") == pytest.approx(-113.01)
    assert dms_to_degrees((1, 2), "N") is None
    assert parse_iso6709("+35.0050+113.0050/") == (35.005, 113.005)
    assert parse_iso6709("-33.8568+151.2153+020.000/") == (-33.8568, 151.2153)
    assert parse_iso6709("+00.0000+000.0000/") == (None, None)  # a camera without a fix
    assert parse_iso6709("garbage") == (None, None)
    assert parse_container_time("2026-11-30T01:15:30.000000Z") == datetime(2026, 11, 30, 1, 15, 30, tzinfo=UTC)
    assert parse_container_time("1904-01-01T00:00:00Z") is None  # MP4's "unset"


def test_tus_headers() -> None:
    assert parse_metadata("filename ZG9nLmpwZw==,is_confidential") == {"filename": "dog.jpg", "is_confidential": ""}
    for bad in ("filename ZG9n!", "a YQ==,a YQ==", "a YQ== YQ==", ",a YQ=="):
        with pytest.raises(BadHeader):
            parse_metadata(bad)
    assert label_of({"filename": "C:\\Users\\x\\..\\照片 1.jpg"}) == "照片 1.jpg"
    assert label_of({"filename": "../../etc/passwd"}) == "passwd"
    assert label_of({"filename": "/"}) is None
    c = parse_checksum("sha256 " + "A" * 43 + "=")
    assert c is not None and (c.algorithm, len(c.digest)) == ("sha256", 32)
    for bad in ("md5 AAAA", "sha256 AAAA", "sha1 not base64"):
        with pytest.raises(BadHeader):
            parse_checksum(bad)


def test_types_come_from_magic_bytes() -> None:
    assert sniff.detect(jpeg()[:8192]).mime == "image/jpeg"
    assert sniff.detect(png_bomb(64)).mime == "image/png"
    assert sniff.detect(mp4()[:8192]) == sniff.MediaType("video/mp4", "video", "mp4")
    assert sniff.detect(wav()[:8192]).kind == "audio"
    for junk in (executable(), b"%PDF-1.7\n" + bytes(300), b"PK\x03\x04" + bytes(300), b"<html></html>", b""):
        with pytest.raises(sniff.Refused) as refused:
            sniff.detect(junk)
        assert refused.value.status == 415
    limits = MediaLimits(max_image_bytes=10, max_video_bytes=20, max_audio_bytes=15)
    assert sniff.max_size(limits) == 20
    with pytest.raises(sniff.Refused) as refused:
        sniff.check_size(sniff.MediaType("image/jpeg", "image", "jpg"), 11, limits)
    assert refused.value.status == 413
