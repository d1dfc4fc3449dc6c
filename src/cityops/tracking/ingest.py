"""Position ingest (service): device → filters → latest store → history buffer → arrival detection.

Every fix ends in exactly one counter: ``accepted``, ``dropped.<reason>`` (answered 200 so the phone does not
resend it) or ``rejected.<reason>`` (answered 4xx). Nothing rejected or dropped is stored.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.errors import AppError, Forbidden, NotAuthenticated, NotFound
from cityops.runtime import Runtime
from cityops.tracking import arrival
from cityops.tracking.filters import Drop, evaluate
from cityops.tracking.history import Record
from cityops.tracking.osmand import RawFix
from cityops.tracking.state import DeviceInfo, TrackingState, state_of
from cityops.tracking.store import Latest

log = logging.getLogger(__name__)
ARRIVAL_RETRY_S = 60.0  # a refused automatic arrival (e.g. a request pending) is not retried on every fix


class UnknownDevice(NotFound):
    code = "unknown_device"


@dataclass
class IngestResult:
    accepted: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    arrivals: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"accepted": self.accepted, "dropped": dict(self.dropped), "rejected": dict(self.rejected),
                "arrivals": self.arrivals}


def _token_problem(dev: DeviceInfo, caller: Principal | None) -> AppError | None:
    """A device token (or an officer's own session) may report only for devices bound to that officer."""
    if caller is None:
        if dev.require_token:
            return NotAuthenticated(f"device {dev.identifier} reports only with its device token", field="token")
        return None
    if caller.has(Role.ADMIN.value):
        return None
    if caller.has(Role.DEVICE.value, Role.OFFICER.value) and dev.officer_id == caller.user_id:
        return None
    return Forbidden(f"this token may not report for device {dev.identifier}", field="device_id")


async def ingest(rt: Runtime, fixes: Sequence[RawFix], *, caller: Principal | None, now: datetime,
                 strict: bool = False) -> IngestResult:
    """Take fixes in. ``strict`` (a single-fix request) raises on an unknown device or a wrong token instead of
    counting and skipping it."""
    st = state_of(rt)
    res = IngestResult()
    devices = await st.devices.resolve(rt, {f.device for f in fixes})
    if caller is not None and None in devices.values():
        devices.update(await _register_own(rt, caller, [i for i, d in devices.items() if d is None], now))
    # Per device once per request: is it known, may this caller report for it? (None: refused, with the error.)
    usable: dict[str, DeviceInfo | AppError] = {}
    for ident, info in devices.items():
        if info is None or not info.is_active:
            usable[ident] = UnknownDevice(f"unknown device {ident!r}: register it first", field="id")
        else:
            usable[ident] = _token_problem(info, caller) or info
    now_s = now.timestamp()
    limits = st.limits
    last_of = st.last
    newest: dict[int, tuple[DeviceInfo, RawFix, float, float, float, datetime]] = {}
    records: list[Record] = []
    append = records.append
    for f in fixes:
        dev = usable[f.device]
        if not isinstance(dev, DeviceInfo):
            res.rejected["unknown_device" if isinstance(dev, UnknownDevice) else "bad_token"] += 1
            if strict:
                _count(st, res)
                raise dev
            continue
        lat, lon = f.lat, f.lon
        outdated = False
        if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
            # Traccar's rule: a report without a fix (or 0,0) reuses the last known location.
            prev = st.store.local(dev.id) or await st.store.get(dev.id)
            if prev is None:
                res.dropped[Drop.NO_FIX] += 1
                continue
            lat, lon, outdated = prev.lat, prev.lon, True
        at = f.at or now
        t = at.timestamp()
        reason, nxt = evaluate(last_of.get(dev.id), t, lat, lon, f.accuracy_m, f.valid, now_s, limits)
        if nxt is not None:
            last_of[dev.id] = nxt
        if reason is not None:
            res.dropped[reason] += 1
            continue
        attrs = f.attributes
        if outdated or f.alarm is not None or f.charging is not None:
            attrs = dict(attrs or {})
            if f.alarm is not None:
                attrs["alarm"] = f.alarm
            if f.charging is not None:
                attrs["charge"] = f.charging
            if outdated:
                attrs["outdated"] = True
        append((dev.id, dev.officer_id, at, now, lat, lon, f.speed_mps, f.bearing, f.altitude, f.accuracy_m,
                f.battery, attrs))
        cur = newest.get(dev.id)
        if cur is None or t > cur[2]:
            newest[dev.id] = (dev, f, t, lat, lon, at)
    res.accepted = len(records)
    st.writer.extend(records)
    for dev, f, _t, lat, lon, at in newest.values():
        latest = Latest(dev.id, dev.officer_id, lat, lon, at, f.speed_mps, f.bearing, f.accuracy_m, f.battery,
                        f.charging, f.alarm)
        if st.store.put(latest):
            st.pending_events[dev.id] = latest
            if dev.officer_id is not None:
                await _check_arrival(rt, st, dev, latest, now, res)
    _count(st, res)
    return res


AUTO_REGISTER_MAX = 3  # new identifiers one request may register


async def _register_own(rt: Runtime, caller: Principal, identifiers: list[str], now: datetime
                        ) -> dict[str, DeviceInfo | None]:
    """An officer signed in (the field app, or their device token) reporting from a phone not yet registered
    gets it registered to themselves, as Traccar's "register unknown" does — anonymous reports never do."""
    from cityops.tracking import service as tracking_service
    from cityops.tracking.schemas import DeviceCreate

    if caller.has(Role.ADMIN.value) or not caller.has(Role.OFFICER.value, Role.DEVICE.value):
        return {}
    for ident in identifiers[:AUTO_REGISTER_MAX]:
        try:
            async with rt.sessionmaker() as session:
                await tracking_service.create_device(rt, session, data=DeviceCreate(
                    identifier=ident, name=f"{caller.display_name} ({ident})"[:100], officer_id=caller.user_id),
                    actor_id=caller.user_id, now=now)
        except AppError as e:  # not an officer, or registered meanwhile by another request
            log.info("device %s not registered for user %s: %s", ident, caller.user_id, e.message)
    return await state_of(rt).devices.resolve(rt, identifiers[:AUTO_REGISTER_MAX])


def _count(st: TrackingState, res: IngestResult) -> None:
    if res.accepted:
        st.count("accepted", res.accepted)
    for k, v in res.dropped.items():
        st.count(f"dropped.{k}", v)
    for k, v in res.rejected.items():
        st.count(f"rejected.{k}", v)


def count_rejected(rt: Runtime, reason: str, n: int = 1) -> None:
    """For refusals decided before a fix is parsed (malformed, too large, bad credentials)."""
    state_of(rt).count(f"rejected.{reason}", n)


async def _check_arrival(rt: Runtime, st: TrackingState, dev: DeviceInfo, fix: Latest, now: datetime,
                         res: IngestResult) -> None:
    assert dev.officer_id is not None
    tasks = await st.tasks.get(rt, dev.officer_id)
    if not tasks:
        return
    radius = rt.settings.tracking.arrival_radius_m
    for task, distance in arrival.reached(tasks, fix.lat, fix.lon, radius):
        key = (dev.officer_id, task.case_id)
        if st.arrival_backoff.get(key, 0.0) > time.monotonic():
            continue
        if await arrive(rt, dev, task.case_id, fix, distance, now):
            res.arrivals.append(task.case_id)
        else:
            st.arrival_backoff[key] = time.monotonic() + ARRIVAL_RETRY_S


async def arrive(rt: Runtime, dev: DeviceInfo, case_id: int, fix: Latest, distance_m: float, now: datetime) -> bool:
    """到场 by position: the case moves to on-scene as the officer's device, with the fix as evidence."""
    from cityops.case import service as case_service
    from cityops.case.schemas import ActionIn
    from cityops.tracking import service as tracking_service

    assert dev.officer_id is not None
    device = Principal(dev.officer_id, dev.officer_username or str(dev.officer_id), dev.officer_name or "",
                       frozenset({Role.DEVICE.value}), dev.department_id, "device", now + timedelta(hours=1))
    body = ActionIn(action="arrive", lat=fix.lat, lon=fix.lon,
                    note=f"到场 by position: device {dev.identifier}, {distance_m:.0f} m from the case")
    token = arrival.position_evidence.set(arrival.fix_evidence(dev.id, fix.at, fix.accuracy_m, fix.lat, fix.lon))
    try:
        async with rt.sessionmaker() as session:
            await case_service.act(rt, session, case_id=case_id, body=body, caller=device, now=now)
    except AppError as e:
        log.info("automatic arrival refused for case %s: %s", case_id, e.message)
        return False
    finally:
        arrival.position_evidence.reset(token)
    st = state_of(rt)
    st.tasks.invalidate()
    st.count("arrivals")
    await tracking_service.refresh_officers(rt, [dev.officer_id], now)
    return True
