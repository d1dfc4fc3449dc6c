"""Parameters of the Open311 calls, read and checked without I/O.

The spec's rules applied here: an empty optional parameter is the same as an absent one; lists are comma-delimited
and may also be repeated; datetimes are W3C with a zone; ``start_date``..``end_date`` spans at most 90 days. Every
problem found is reported, not only the first (the error response is a list).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cityops.open311.formats import Open311Error, clean_text
from cityops.open311.servicetypes import parse_w3c

MAX_SPAN = timedelta(days=90)
DEFAULT_LIMIT = 1000
MAX_IDS = 200
MAX_DESCRIPTION = 4000
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,64})\](\[\])?$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_CJK = re.compile(r"^[\u3400-\u9fff\u00b7]+$")


class Params:
    """Query or form items → values, treating empty as absent."""

    def __init__(self, items: Iterable[tuple[str, Any]]) -> None:
        self.multi: dict[str, list[Any]] = {}
        for k, v in items:
            if isinstance(v, str):
                v = v.strip()
                if v == "":
                    continue
            self.multi.setdefault(k, []).append(v)

    def one(self, name: str, problems: list[str]) -> str | None:
        values = self.multi.get(name)
        if not values:
            return None
        if len(values) > 1 and len(set(values)) > 1:
            problems.append(f"{name} was sent more than once with different values")
        v = values[0]
        if not isinstance(v, str):
            problems.append(f"{name} must be a text field")
            return None
        return v

    def listed(self, name: str) -> tuple[str, ...]:
        out: list[str] = []
        for v in self.multi.get(name, []):
            if isinstance(v, str):
                out += [p.strip() for p in v.split(",") if p.strip()]
        return tuple(dict.fromkeys(out))


def _when(p: Params, name: str, problems: list[str]) -> datetime | None:
    raw = p.one(name, problems)
    if raw is None:
        return None
    parsed = parse_w3c(raw)
    if parsed is None:
        problems.append(f"{name} must be a W3C datetime with a time zone, e.g. 2010-01-01T00:00:00Z")
    return parsed


def _int(p: Params, name: str, lo: int, hi: int, problems: list[str]) -> int | None:
    raw = p.one(name, problems)
    if raw is None:
        return None
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        problems.append(f"{name} must be a whole number from {lo} to {hi}")
        return None
    return int(raw)


def _bool(p: Params, name: str, problems: list[str]) -> bool:
    raw = p.one(name, problems)
    if raw is None:
        return False
    if raw.lower() not in ("true", "false", "1", "0"):
        problems.append(f"{name} must be true or false")
        return False
    return raw.lower() in ("true", "1")


def parse_extensions(p: Params) -> bool:
    """``extensions=true`` (the Extensions page): ask for extended attributes."""
    problems: list[str] = []
    on = _bool(p, "extensions", problems)
    if problems:
        raise Open311Error(400, *problems)
    return on


@dataclass(frozen=True)
class RequestQuery:
    """GET requests: ``ids`` overrides everything else, as the spec says."""

    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    statuses: tuple[str, ...] = ()
    page: int = 1
    page_size: int = DEFAULT_LIMIT
    extensions: bool = False

    @property
    def default_window(self) -> bool:
        """No date given at all: the spec's "most recent 90 days"."""
        return not self.ids and all(v is None for v in (self.start, self.end, self.updated_after,
                                                         self.updated_before))


def parse_requests_query(p: Params) -> RequestQuery:
    problems: list[str] = []
    ids = p.listed("service_request_id")
    if len(ids) > MAX_IDS:
        problems.append(f"service_request_id lists at most {MAX_IDS} ids")
    bad_ids = [i for i in ids if not i.isalnum() or len(i) > 32]
    if bad_ids:
        problems.append(f"service_request_id {bad_ids[0]!r} is not a request id")
    start, end = _when(p, "start_date", problems), _when(p, "end_date", problems)
    after, before = _when(p, "updated_after", problems), _when(p, "updated_before", problems)
    if start and end:
        if end < start:
            problems.append("end_date is before start_date")
        elif end - start > MAX_SPAN:
            problems.append("start_date to end_date may not span more than 90 days")
    elif start:
        end = start + MAX_SPAN
    elif end:
        start = end - MAX_SPAN
    if after and before and before < after:
        problems.append("updated_before is before updated_after")
    statuses = tuple(s.lower() for s in p.listed("status"))
    bad = [s for s in statuses if s not in ("open", "closed")]
    if bad:
        problems.append(f"status {bad[0]!r} is not one of: open, closed")
    page = _int(p, "page", 1, 1_000_000, problems) or 1
    page_size = _int(p, "page_size", 1, DEFAULT_LIMIT, problems) or DEFAULT_LIMIT
    extensions = _bool(p, "extensions", problems)
    if problems:
        raise Open311Error(400, *problems)
    return RequestQuery(ids, p.listed("service_code"), start, end, after, before, statuses, page, page_size,
                        extensions)


@dataclass(frozen=True)
class UpdatesQuery:
    start: datetime
    end: datetime
    page: int
    page_size: int


def parse_updates_query(p: Params, now: datetime) -> UpdatesQuery:
    """FixMyStreet's servicerequestupdates: start_date/end_date, defaulting to the last 90 days like requests."""
    problems: list[str] = []
    start, end = _when(p, "start_date", problems), _when(p, "end_date", problems)
    if start and end and end < start:
        problems.append("end_date is before start_date")
    elif start and end and end - start > MAX_SPAN:
        problems.append("start_date to end_date may not span more than 90 days")
    page = _int(p, "page", 1, 1_000_000, problems) or 1
    page_size = _int(p, "page_size", 1, DEFAULT_LIMIT, problems) or DEFAULT_LIMIT
    if problems:
        raise Open311Error(400, *problems)
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - MAX_SPAN
    if end is None:
        end = min(now, start + MAX_SPAN)
    return UpdatesQuery(start, end, page, page_size)


@dataclass
class NewRequest:
    """A POSTed request after checking its form (attributes are checked against the service later)."""

    service_code: str
    lat: float | None = None
    lon: float | None = None
    address_string: str | None = None
    address_id: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    reporter_name: str | None = None
    phone: str | None = None
    description: str = ""
    media_url: str | None = None
    answers: dict[str, list[str]] = field(default_factory=dict)


def _short(p: Params, name: str, limit: int, problems: list[str]) -> str | None:
    v = p.one(name, problems)
    if v is not None:
        v = clean_text(v)
        if len(v) > limit or "\n" in v:
            problems.append(f"{name} must be one line of at most {limit} characters")
    return v


def _coordinate(p: Params, name: str, bound: float, problems: list[str]) -> float | None:
    raw = p.one(name, problems)
    if raw is None:
        return None
    try:
        v = float(raw)
    except ValueError:
        v = math.nan
    if not math.isfinite(v) or not -bound <= v <= bound:
        problems.append(f"{name} must be a number from {-bound:g} to {bound:g} (WGS84 degrees)")
        return None
    return v


def parse_new_request(p: Params) -> NewRequest:
    """Check the form of POST requests; raises Open311Error(400) listing every problem."""
    problems: list[str] = []
    code = p.one("service_code", problems)
    if code is None:
        problems.append("service_code was not provided")
    lat = _coordinate(p, "lat", 90, problems)
    lon = _coordinate(p, "long", 180, problems)
    if ("lat" in p.multi) != ("long" in p.multi):
        problems.append("lat and long must be sent together")
    address_string = p.one("address_string", problems)
    if address_string is not None and len(address_string) > 300:
        problems.append("address_string must be at most 300 characters")
    address_id = _short(p, "address_id", 100, problems)
    if not ("lat" in p.multi or address_string or address_id):
        problems.append("a location is required: lat and long, address_string or address_id")
    email = _short(p, "email", 254, problems)
    if email is not None and not _EMAIL.match(email):
        problems.append("email is not an e-mail address")
    phone = p.one("phone", problems)
    if phone is not None:
        phone = re.sub(r"\s+", " ", re.sub(r"[()./]", " ", phone)).strip()
        if not re.fullmatch(r"[0-9+\- ]{3,32}", phone):
            problems.append("phone must be 3–32 digits (spaces, '+', '-', brackets allowed)")
    first, last = _short(p, "first_name", 50, problems), _short(p, "last_name", 50, problems)
    description = clean_text(p.one("description", problems) or "")
    if len(description) > MAX_DESCRIPTION:
        problems.append(f"description is limited to {MAX_DESCRIPTION:,} characters (got {len(description):,})")
    media_url = p.one("media_url", problems)
    if media_url is not None and (not re.match(r"^https?://[^\s]+$", media_url) or len(media_url) > 2000):
        problems.append("media_url must be an http(s) URL of at most 2000 characters")
    device_id, account_id = _short(p, "device_id", 100, problems), _short(p, "account_id", 100, problems)
    answers: dict[str, list[str]] = {}
    for key, values in p.multi.items():
        m = _ATTRIBUTE.match(key)
        if m:
            answers.setdefault(m.group(1), []).extend(v for v in values if isinstance(v, str))
        elif key.startswith("attribute"):
            problems.append(f"{key} is not of the form attribute[code] or attribute[code][]")
    if problems:
        raise Open311Error(400, *problems)
    assert code is not None
    return NewRequest(
        service_code=code, lat=lat, lon=lon, address_string=clean_text(address_string) if address_string else None,
        address_id=address_id, email=email, device_id=device_id,
        account_id=account_id, reporter_name=_name(first, last), phone=phone,
        description=description, media_url=media_url, answers=answers,
    )


def _name(first: str | None, last: str | None) -> str | None:
    """张 + 三 → 张三 (family name first, no space) for Chinese names; "John Smith" otherwise."""
    parts = [x for x in (first, last) if x]
    if not parts:
        return None
    if first and last and _CJK.match(first) and _CJK.match(last):
        return last + first
    return " ".join(parts)


__all__ = ["MAX_SPAN", "NewRequest", "Params", "RequestQuery", "UpdatesQuery"]
