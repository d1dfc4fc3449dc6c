"""Photo evidence of the demo's cases (现场照片): synthetic street photos, stamped with EXIF time and GPS like a
phone's, and filed through the real upload (tus) and evidence services, so the demo's evidence is checked,
derived, stored, flagged and audited exactly as an officer's would be.

A share of the cases is photographed (the rest were reported without photos): each such case has one street
view (``Scene``), which the reporter photographs with the problem in it shortly after reporting, and the officer
photographs again, cleared, at handling. Each photo costs a few tens of milliseconds of real pipeline work, so
the share, not the picture, is what keeps ``cityops demo`` quick.
"""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational

from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.media import service as media_service
from cityops.media import uploads
from cityops.media.models import Evidence
from cityops.media.rules import EvidenceRole
from cityops.media.schemas import EvidenceAttach
from cityops.runtime import Runtime

PHOTOGRAPHED_SHARE = 0.6
PHOTO_SIZE = (800, 600)
JPEG_QUALITY = 70
EXIF_TIME_FORMAT = "%Y:%m:%d %H:%M:%S"
MICRO = 1_000_000  # GPS seconds are written in millionths: ~0.03 mm, far finer than the 7 decimals read back

Colour = tuple[int, int, int]
SKIES: tuple[tuple[Colour, Colour], ...] = (
    ((118, 163, 214), (201, 223, 240)),  # clear
    ((150, 160, 172), (205, 208, 212)),  # overcast
    ((176, 174, 160), (222, 214, 190)),  # hazy
    ((98, 140, 200), (236, 205, 170)),  # late afternoon
)
FACADES: tuple[Colour, ...] = ((196, 184, 164), (170, 176, 184), (210, 200, 190), (158, 120, 100), (222, 214, 196),
                               (140, 150, 160), (188, 160, 130))
LITTER: tuple[Colour, ...] = ((220, 60, 50), (245, 245, 240), (60, 120, 210), (240, 200, 40), (80, 170, 90))


@dataclass(frozen=True)
class Scene:
    """One case's spot as the demo's phones see it: the same street before and after handling."""

    seed: int
    lat: float
    lon: float
    photographed: bool  # False: the case was reported, and handled, without photos
    problem_delay: timedelta  # how long after reporting the reporter photographs the problem


def plan_scene(rng: random.Random, lat: float, lon: float) -> Scene:
    """Draws the same amount from ``rng`` for every case, so one case's choices never shift another's."""
    seed = rng.getrandbits(32)
    photographed = rng.random() < PHOTOGRAPHED_SHARE
    # Within two minutes: no demo case moves on sooner, so the photo lies between the report and the next step.
    return Scene(seed, lat, lon, photographed, timedelta(seconds=rng.uniform(20, 110)))


# --- the picture --------------------------------------------------------------------------------------------------


def _shade(c: Colour, rng: random.Random, spread: int) -> Colour:
    r, g, b = (max(0, min(255, v + rng.randint(-spread, spread))) for v in c)
    return r, g, b


def _mix(a: Colour, b: Colour, f: float) -> Colour:
    return round(a[0] + (b[0] - a[0]) * f), round(a[1] + (b[1] - a[1]) * f), round(a[2] + (b[2] - a[2]) * f)


def draw_street(seed: int, *, cleared: bool, size: tuple[int, int] = PHOTO_SIZE) -> Image.Image:
    """A street seen from the pavement: sky, a row of buildings, the road running off to a vanishing point,
    trees, and (unless ``cleared``) the problem on the pavement in front: litter, bags, a stall or posters."""
    rng = random.Random(seed)
    w, h = size
    u = w / 1024  # sizes below are in pixels of a 1024 px wide photo
    im = Image.new("RGB", size)
    d = ImageDraw.Draw(im)
    horizon = int(h * rng.uniform(0.42, 0.52))
    top, bottom = rng.choice(SKIES)
    bands = 12
    for i in range(bands):
        d.rectangle((0, horizon * i // bands, w, horizon * (i + 1) // bands), fill=_mix(top, bottom, i / bands))
    x = -rng.uniform(0, 60) * u
    walls: list[tuple[float, float, float]] = []  # (left, right, top) of each building, for the posters
    while x < w:
        bw, bh = rng.uniform(90, 230) * u, rng.uniform(0.12, 0.38) * h
        d.rectangle((x, horizon - bh, x + bw, horizon), fill=_shade(rng.choice(FACADES), rng, 16))
        glass = _shade((70, 90, 110), rng, 20)
        wy = horizon - bh + 12 * u
        while wy < horizon - 30 * u:
            wx = x + 10 * u
            while wx < x + bw - 24 * u:
                d.rectangle((wx, wy, wx + 16 * u, wy + 20 * u), fill=glass)
                wx += 30 * u
            wy += 34 * u
        walls.append((x, x + bw, horizon - bh))
        x += bw + rng.uniform(0, 14) * u
    d.rectangle((0, horizon, w, h), fill=_shade((172, 168, 160), rng, 12))  # pavement
    vx = w * rng.uniform(0.45, 0.7)

    def road_left(y: float) -> float:  # the kerb, from the vanishing point to the bottom edge
        return vx - 24 * u + (w * 0.45 - vx + 24 * u) * (y - horizon) / (h - horizon)

    d.polygon([(vx - 24 * u, horizon), (vx + 24 * u, horizon), (w * 1.6, h), (road_left(h), h)],
              fill=_shade((78, 80, 84), rng, 10))
    for k in range(8):  # lane dashes, longer and wider as they come nearer
        f0, f1 = (k / 8) ** 1.6, ((k + 0.5) / 8) ** 1.6
        x0, y0 = vx + (w * 0.95 - vx) * f0, horizon + (h - horizon) * f0
        x1, y1 = vx + (w * 0.95 - vx) * f1, horizon + (h - horizon) * f1
        r0, r1 = (1 + 3 * f0) * u, (1 + 3 * f1) * u
        d.polygon([(x0 - r0, y0), (x0 + r0, y0), (x1 + r1, y1), (x1 - r1, y1)], fill=(232, 232, 224))
    for _ in range(rng.randint(2, 4)):  # street trees along the kerb, larger when nearer
        ty = rng.uniform(horizon + 20 * u, h - 40 * u)
        tx, near = road_left(ty) - 30 * u, (0.4 + 1.6 * (ty - horizon) / (h - horizon)) * u
        d.rectangle((tx - 5 * near, ty - 70 * near, tx + 5 * near, ty), fill=(96, 72, 52))
        d.ellipse((tx - 40 * near, ty - 140 * near, tx + 40 * near, ty - 55 * near),
                  fill=_shade((70, 130, 70), rng, 25))
    if not cleared:  # drawn last, so the cleared view is the same street without it
        cy = rng.uniform((horizon + 2 * h) / 3, h - 60 * u)
        cx = rng.uniform(160 * u, max(160 * u, road_left(cy) - 120 * u))
        _problem(d, rng, cx, cy, u, horizon, walls)
    return im


def _problem(d: ImageDraw.ImageDraw, rng: random.Random, cx: float, cy: float, u: float, horizon: int,
             walls: list[tuple[float, float, float]]) -> None:
    kind = rng.choice(("litter", "bags", "stall", "posters"))
    if kind == "litter":
        for _ in range(rng.randint(25, 45)):
            px, py, r = cx + rng.uniform(-180, 180) * u, cy + rng.uniform(-50, 50) * u, rng.uniform(5, 16) * u
            d.polygon([(px, py), (px + r, py + rng.uniform(-4, 4) * u), (px + rng.uniform(-4, 4) * u, py + r)],
                      fill=rng.choice(LITTER))
    elif kind == "bags":
        for _ in range(rng.randint(4, 8)):
            bx, by, r = cx + rng.uniform(-90, 90) * u, cy + rng.uniform(-25, 25) * u, rng.uniform(28, 48) * u
            d.ellipse((bx - r, by - r * 0.8, bx + r, by + r * 0.8), fill=_shade((36, 38, 42), rng, 10))
    elif kind == "stall":  # 占道经营: a vendor's table and awning
        d.rectangle((cx - 110 * u, cy - 40 * u, cx + 110 * u, cy + 30 * u), fill=_shade((150, 110, 70), rng, 15))
        d.polygon([(cx - 150 * u, cy - 110 * u), (cx + 150 * u, cy - 110 * u), (cx + 120 * u, cy - 150 * u),
                   (cx - 120 * u, cy - 150 * u)], fill=_shade((200, 60, 50), rng, 30))
        d.rectangle((cx - 4 * u, cy - 110 * u, cx + 4 * u, cy - 40 * u), fill=(90, 90, 90))
        for _ in range(rng.randint(3, 6)):
            bx = cx + rng.uniform(-100, 70) * u
            d.rectangle((bx, cy - (40 + rng.uniform(15, 35)) * u, bx + 30 * u, cy - 40 * u), fill=rng.choice(LITTER))
    else:  # 小广告: posters stuck on a wall
        left, right, top = rng.choice(walls)
        for _ in range(rng.randint(6, 14)):
            px = rng.uniform(max(0.0, left), max(0.0, right - 30 * u))
            py = rng.uniform(top + 5 * u, horizon - 40 * u)
            d.rectangle((px, py, px + rng.uniform(14, 30) * u, py + rng.uniform(18, 36) * u), fill=rng.choice(LITTER))


# --- what the camera writes ---------------------------------------------------------------------------------------


def _degrees_minutes_seconds(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    micro_seconds = round(abs(value) * 3600 * MICRO)
    degrees, rest = divmod(micro_seconds, 3600 * MICRO)
    minutes, seconds = divmod(rest, 60 * MICRO)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds, MICRO)


def _offset(local: datetime) -> str:
    minutes = int((local.utcoffset() or timedelta()).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def camera_exif(taken_at: datetime, lat: float, lon: float, tz: tzinfo) -> Image.Exif:
    """EXIF as a phone writes it: local time in whole seconds with its UTC offset, and the GPS fix."""
    local = taken_at.astimezone(tz)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "cityops"
    exif[ExifTags.Base.Model] = "demo camera"
    exif[ExifTags.Base.DateTime] = local.strftime(EXIF_TIME_FORMAT)
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = local.strftime(EXIF_TIME_FORMAT)
    sub[ExifTags.Base.OffsetTimeOriginal] = _offset(local)
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
    gps[ExifTags.GPS.GPSLatitude] = _degrees_minutes_seconds(lat)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
    gps[ExifTags.GPS.GPSLongitude] = _degrees_minutes_seconds(lon)
    return exif


def photo_jpeg(scene: Scene, *, cleared: bool, taken_at: datetime, tz: tzinfo) -> bytes:
    out = io.BytesIO()
    draw_street(scene.seed, cleared=cleared).save(out, "JPEG", quality=JPEG_QUALITY,
                                                  exif=camera_exif(taken_at, scene.lat, scene.lon, tz))
    return out.getvalue()


# --- filing it as evidence ----------------------------------------------------------------------------------------


async def _in_one_piece(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def file_photo(rt: Runtime, *, case_id: int, by: Principal, role: EvidenceRole, scene: Scene,
                     cleared: bool, at: datetime) -> Evidence:
    """Photograph the scene at ``at``, upload it (tus creation-with-upload) and attach it, both at ``at``.

    The camera and the phone both say the whole second of ``at`` and the scene's place, so the evidence carries
    no flags."""
    tz = ZoneInfo(rt.settings.timezone)
    taken_at = at.replace(microsecond=0)  # EXIF keeps whole seconds
    data = await asyncio.to_thread(photo_jpeg, scene, cleared=cleared, taken_at=taken_at, tz=tz)
    async with rt.sessionmaker() as s:
        upload = await uploads.create(rt, s, caller=by, length=len(data), metadata_header=None,
                                      filename=f"IMG_{taken_at.astimezone(tz):%Y%m%d_%H%M%S}.jpg", now=at,
                                      body=_in_one_piece(data), content_length=len(data))
        evidence, _ = await media_service.attach(rt, s, case_id=case_id, caller=by, now=at, body=EvidenceAttach(
            upload_id=upload.id, role=role, device_time=taken_at, lat=scene.lat, lon=scene.lon))
    return evidence


async def photograph_problem(rt: Runtime, *, case_id: int, reporter: Principal, scene: Scene,
                             reported_at: datetime) -> Evidence | None:
    """The reporter's photo of the problem (处置前照片; a resident's is a 公众上报照片), unless the case is not
    photographed or that moment is still to come."""
    at = reported_at + scene.problem_delay
    if not scene.photographed or at >= rt.clock():
        return None
    role = EvidenceRole.RESIDENT_PHOTO if Role.RESIDENT in reporter.roles else EvidenceRole.BEFORE
    return await file_photo(rt, case_id=case_id, by=reporter, role=role, scene=scene, cleared=False, at=at)


async def photograph_result(rt: Runtime, *, case_id: int, officer: Principal, scene: Scene,
                            handled_at: datetime) -> Evidence | None:
    """The officer's photo of the cleared spot (处置后照片), taken as the handling is recorded."""
    if not scene.photographed:
        return None
    return await file_photo(rt, case_id=case_id, by=officer, role=EvidenceRole.AFTER, scene=scene, cleared=True,
                            at=handled_at)
