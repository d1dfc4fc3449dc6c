"""The demo's synthetic photos: EXIF time and GPS read back by the server's own EXIF reader exactly as written,
and the after-photo shows the same street as the before-photo, without the problem."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageChops

from cityops.demo import photos
from cityops.demo.district import generate_district, random_point_in
from cityops.media import exif


def read_back(data: bytes, local: str) -> exif.Capture:
    with Image.open(io.BytesIO(data)) as im:
        return exif.from_image(im, ZoneInfo(local))


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/New_York"])
def test_exif_time_and_place_read_back_as_written(zone: str) -> None:
    rng = random.Random(zone)
    bounds = generate_district().bounds
    # Demo points, and points in every hemisphere (S and W are written as refs, not signs).
    points = [random_point_in(bounds, rng) for _ in range(20)] + [
        (-33.8688197, 151.2092955), (40.7127753, -74.0059728), (-22.9068467, -43.1728965), (0.0000001, 0.0)]
    for i, (lat, lon) in enumerate(points):
        # Summer and winter dates: zones with daylight saving write a different offset in each.
        taken = datetime(2026, 1 + (i % 12), 1 + i, 8 + i % 10, 7 * i % 60, 13 * i % 60, tzinfo=UTC)
        scene = photos.Scene(seed=i, lat=lat, lon=lon, photographed=True, problem_delay=timedelta(seconds=30))
        data = photos.photo_jpeg(scene, cleared=bool(i % 2), taken_at=taken, tz=ZoneInfo(zone))

        got = read_back(data, zone)
        assert (got.at, got.lat, got.lon) == (taken, round(lat, 7), round(lon, 7)), (lat, lon, taken)
        assert got.source == "exif"
        # The offset is written too: a reader in another zone gets the same instant.
        assert read_back(data, "UTC").at == taken


def test_exif_local_time_is_the_bureaus_wall_clock() -> None:
    taken = datetime(2026, 11, 30, 1, 15, 30, tzinfo=UTC)
    scene = photos.Scene(seed=1, lat=35.2, lon=113.2, photographed=True, problem_delay=timedelta(seconds=30))
    data = photos.photo_jpeg(scene, cleared=False, taken_at=taken, tz=ZoneInfo("Asia/Shanghai"))

    with Image.open(io.BytesIO(data)) as im:
        sub = im.getexif().get_ifd(0x8769)
    assert sub[0x9003] == "2026:11:30 09:15:30"  # DateTimeOriginal: 01:15:30 UTC is 09:15:30 in Shanghai
    assert sub[0x9011] == "+08:00"  # OffsetTimeOriginal


def test_photo_is_a_modest_jpeg_of_the_configured_size() -> None:
    scene = photos.plan_scene(random.Random(3), 35.2, 113.2)
    data = photos.photo_jpeg(scene, cleared=False, taken_at=datetime(2026, 11, 30, tzinfo=UTC),
                             tz=ZoneInfo("Asia/Shanghai"))

    with Image.open(io.BytesIO(data)) as im:
        assert (im.format, im.size) == ("JPEG", photos.PHOTO_SIZE)
    assert len(data) < 200_000


def test_cleared_photo_is_the_same_street_without_the_problem() -> None:
    for seed in range(12):
        before = photos.draw_street(seed, cleared=False)
        after = photos.draw_street(seed, cleared=True)
        changed = ImageChops.difference(before, after).getbbox()
        assert changed is not None, f"scene {seed}: the problem is not in the picture"
        left, top, right, bottom = changed
        w, h = before.size
        # Only the problem differs; the street around it is identical.
        assert (right - left) * (bottom - top) < w * h / 3, f"scene {seed}: {changed}"


def test_scenes_are_different_streets_and_the_share_is_photographed() -> None:
    rng = random.Random(7)
    scenes = [photos.plan_scene(rng, 35.2, 113.2) for _ in range(400)]

    assert len({s.seed for s in scenes}) == len(scenes)
    share = sum(s.photographed for s in scenes) / len(scenes)
    assert abs(share - photos.PHOTOGRAPHED_SHARE) < 0.1
    # The reporter's photo comes before any demo case's next step (2 minutes at the earliest).
    assert all(timedelta(seconds=20) <= s.problem_delay < timedelta(minutes=2) for s in scenes)
