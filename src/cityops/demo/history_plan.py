"""Pure planning of one synthetic case for `cityops demo --months`: its timeline, fields, handling records and
requests, following the workflow table step by step (no database, no clock; randomness from the caller's rng).

A ``Twist`` bends a case into one of the planted unfair patterns; without one the case is clean by every
supervision rule (position on arrival, after-photo, proper orders before fines).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cityops.geo.index import METRES_PER_DEGREE


@dataclass(frozen=True)
class Cat:
    id: int
    code: str
    name: str
    dept: str
    condition_id: int
    deadline_value: float
    deadline_unit: str
    order_first: bool


@dataclass(frozen=True)
class Spot:
    lat: float
    lon: float
    grid_id: int | None
    community_id: int | None
    street_id: int | None
    address: str


@dataclass(frozen=True)
class People:
    intake: int
    shift_lead: int
    dispatcher: int
    inspectors: tuple[int, ...]
    residents: tuple[int, ...]
    officers: dict[str, tuple[int, ...]]
    staff: dict[str, int | None]
    departments: dict[str, int]


@dataclass(frozen=True)
class Twist:
    """How a planted case departs from good practice (all off: a clean case)."""

    no_position: bool = False  # arrive and handle tapped without a position
    no_photo: bool = False  # closed without any after-photo
    far_arrival_m: float | None = None  # manual arrival this far from the case
    slow: bool = False  # the area served late (dispatch and travel)
    void_party: str | None = None  # handled with this party, then voided at the officer's request
    fine_party: str | None = None  # fined without a prior rectification order
    order_party: str | None = None  # rectification order to this party (the proper first step)
    officer: int | None = None  # the officer this case must go to
    never_void: bool = False  # a case that must run to closure (recurrence partners)

    @property
    def crisp(self) -> bool:
        return bool(self.no_position or self.no_photo or self.far_arrival_m or self.void_party or self.fine_party
                    or self.order_party or self.never_void)


@dataclass
class Step:
    at: datetime
    action: str
    from_status: str | None
    to_status: str
    actor_id: int | None
    actor_role: str
    lat: float | None = None
    lon: float | None = None
    note: str | None = None
    attachments: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    request: int | None = None  # index into Plan.requests whose id goes into data["request_id"]


@dataclass
class Plan:
    fields: dict[str, Any]
    steps: list[Step]
    handling: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    survey: dict[str, Any] | None = None  # a rating given through the survey link


Due = Callable[[datetime, float, str], datetime]


def jitter(lat: float, lon: float, metres: float, rng: random.Random) -> tuple[float, float]:
    """A point about ``metres`` away in a random direction."""
    import math

    a = rng.uniform(0, 2 * math.pi)
    dy, dx = metres * math.sin(a), metres * math.cos(a)
    return (round(lat + dy / METRES_PER_DEGREE, 7),
            round(lon + dx / (METRES_PER_DEGREE * math.cos(math.radians(lat))), 7))


class Walk:
    """Moves one case through the loop, recording every step as the case service would."""

    def __init__(self, t0: datetime, spot: Spot, rng: random.Random) -> None:
        self.t, self.spot, self.rng = t0, spot, rng
        self.status: str | None = None
        self.steps: list[Step] = []
        self.f: dict[str, Any] = {}
        self.handling: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.survey: dict[str, Any] | None = None

    def go(self, minutes: float, action: str, to: str, actor: int | None, role: str, **kw: Any) -> Step:
        self.t = self.t + timedelta(minutes=minutes)
        s = Step(self.t, action, self.status, to, actor, role, **kw)
        self.steps.append(s)
        self.status = to
        return s

    def request(self, minutes: float, kind: str, actor: int, role: str, reason: str,
                extra: tuple[float, str] | None = None) -> int:
        idx = len(self.requests)
        self.requests.append({"kind": kind, "reason": reason, "extra_value": extra[0] if extra else None,
                              "extra_unit": extra[1] if extra else None, "requested_by": actor,
                              "requested_at": self.t + timedelta(minutes=minutes), "decision": None,
                              "decided_by": None, "decided_at": None})
        assert self.status is not None
        self.go(minutes, "request", self.status, actor, role, request=idx,
                data={"kind": kind, "reason": reason, "extra_value": extra[0] if extra else None,
                      "extra_unit": extra[1] if extra else None})
        return idx

    def decide(self, minutes: float, idx: int, to: str, actor: int, extra: dict[str, Any] | None = None) -> None:
        req = self.requests[idx]
        assert self.status is not None
        self.go(minutes, "approve", to, actor, "shift_lead", request=idx,
                data={"kind": req["kind"], "decision": "approved", **(extra or {})})
        req.update(decision="approved", decided_by=actor, decided_at=self.t)

    def near(self, metres: float = 15.0) -> tuple[float, float]:
        return jitter(self.spot.lat, self.spot.lon, self.rng.uniform(0, metres), self.rng)


# Stands for the id of the case's after-photo evidence until the rows are inserted (history.py fills it in).
AFTER_PHOTO = "@after-photo"
BACKGROUND_MEASURES = ("on_the_spot_fix", "on_the_spot_fix", "warning", "rectification_order")


def plan_case(*, rng: random.Random, t0: datetime, spot: Spot, cat: Cat, people: People, channel: str,
              due: Due, twist: Twist, serial: int, arrive_radius_m: float, void_p: float = 0.05,
              return_p: float = 0.03, extend_p: float = 0.04, suspend_p: float = 0.02,
              rework_p: float = 0.08) -> Plan:
    w = Walk(t0, spot, rng)
    if twist.crisp:  # a planted case shows its one pattern and nothing else
        void_p = return_p = extend_p = suspend_p = rework_p = 0.0
    dept = cat.dept
    officer = twist.officer or rng.choice(people.officers[dept])
    inspector = rng.choice(people.inspectors)
    resident = rng.choice(people.residents) if people.residents else None
    reporter = {"inspector": inspector, "public": resident, "open311": resident}.get(channel, people.intake)
    w.f.update(channel=channel, reporter_id=reporter, inspector_id=inspector if channel == "inspector" else None,
               reporter_name="热线来电市民" if channel == "hotline" else None,
               reporter_phone=f"139{rng.randint(10_000_000, 99_999_999)}" if channel == "hotline" else None,
               category_id=cat.id, condition_id=cat.condition_id, rework_count=0, return_count=0,
               extension_count=0, pauses=[], satisfaction=None, escalation_level=0)
    role_of_reporter = {"inspector": "inspector", "public": "resident", "open311": "resident"}.get(channel, "intake")
    w.go(0, "report", "reported", reporter, role_of_reporter, lat=spot.lat, lon=spot.lon,
         note=f"{spot.address}发现{cat.name}")
    if channel != "inspector":
        w.go(rng.uniform(2, 9), "send_verify", "verifying", people.intake, "intake",
             data={"inspector_id": inspector})
        w.f["inspector_id"] = inspector
        w.go(rng.uniform(10, 40), "verify", "verified", inspector, "inspector", lat=spot.lat, lon=spot.lon,
             data={"confirmed": True})
    if rng.random() < void_p:
        w.go(rng.uniform(5, 40), "void", "voided", people.shift_lead, "shift_lead", note="重复上报")
        return _done(w)
    w.go(rng.uniform(3, 30), "file", "filed", people.shift_lead, "shift_lead",
         data={"category_id": cat.id, "condition_id": cat.condition_id})
    w.f["filed_at"] = w.t
    if rng.random() < return_p and people.staff.get(dept):
        _dispatch(w, rng, people, dept, officer, cat, due, twist)
        idx = w.request(rng.uniform(3, 20), "return", people.staff[dept] or officer, "department", "非本部门职责")
        w.decide(rng.uniform(5, 30), idx, "filed", people.shift_lead)
        w.f.update(department_id=None, officer_id=None, due_at=None, return_count=1)
    _dispatch(w, rng, people, dept, officer, cat, due, twist)
    if rng.random() < suspend_p:
        idx = w.request(rng.uniform(5, 30), "suspend", people.dispatcher, "dispatcher", "需协调产权单位")
        w.decide(rng.uniform(5, 30), idx, "suspended", people.shift_lead)
        w.f.update(status_before_suspend="dispatched", suspended_at=w.t)
        if rng.random() < 0.5:
            return _done(w)  # still suspended (挂账)
        paused_at = w.t
        w.go(rng.uniform(600, 3000), "resume", "dispatched", people.dispatcher, "dispatcher",
             data={"resumed_to": "dispatched"})
        w.f["pauses"] = [[paused_at.isoformat(), w.t.isoformat()]]
        w.f["due_at"] = w.f["due_at"] + (w.t - paused_at)
        w.f.update(status_before_suspend=None, suspended_at=None)
    w.go(rng.uniform(1, 3), "accept", "accepted", officer, "officer", data={"officer_id": officer})
    if rng.random() < extend_p and people.staff.get(dept):
        idx = w.request(rng.uniform(1, 10), "extend", people.staff[dept] or officer, "department", "需调配机械",
                        extra=(1.0, "working_days"))
        new_due = due(w.f["due_at"], 1.0, "working_days")
        w.decide(rng.uniform(5, 20), idx, "accepted", people.shift_lead, {"due_at": new_due.isoformat()})
        w.f.update(due_at=new_due, extension_count=1)
    w.go(rng.uniform(0.5, 2), "depart", "en_route", officer, "officer")
    _arrive_and_handle(w, rng, cat, officer, twist, arrive_radius_m, late=rng.random() < 0.12)
    if twist.void_party:
        idx = w.request(rng.uniform(5, 20), "void", officer, "officer", "当事人已自行整改，申请作废")
        w.decide(rng.uniform(5, 20), idx, "voided", people.shift_lead)
        return _done(w)
    _feedback_check_close(w, rng, people, officer, inspector, cat, twist, rework=rng.random() < rework_p,
                          arrive_radius_m=arrive_radius_m)
    if channel in ("public", "open311") and resident is not None and rng.random() < 0.8:
        sat = rng.choice(["satisfied"] * 8 + ["basically_satisfied", "dissatisfied"])
        if channel == "open311":
            # An Open311 reporter has no account to 评价 with: the answer comes back through the survey link.
            w.survey = {"channel": "open311", "satisfaction": sat,
                        "responded_at": w.t + timedelta(minutes=rng.uniform(60, 600))}
        else:
            w.go(rng.uniform(60, 600), "evaluate", "evaluated", resident, "resident", data={"satisfaction": sat})
            w.f["satisfaction"] = sat
    return _done(w)


def _dispatch(w: Walk, rng: random.Random, people: People, dept: str, officer: int, cat: Cat, due: Due,
              twist: Twist) -> None:
    w.go(rng.uniform(20, 40) if twist.slow else rng.uniform(2, 11), "dispatch", "dispatched", people.dispatcher,
         "dispatcher")
    due_at = due(w.t, cat.deadline_value, cat.deadline_unit)
    w.steps[-1].data = {"department_id": people.departments[dept], "officer_id": officer,
                        "due_at": due_at.isoformat()}
    w.f.update(department_id=people.departments[dept], officer_id=officer, dispatched_at=w.t, due_at=due_at,
               deadline_value=cat.deadline_value, deadline_unit=cat.deadline_unit)


def _arrival_data(w: Walk, lat: float | None, lon: float | None, radius: float) -> dict[str, Any]:
    if lat is None or lon is None:
        return {"source": "manual"}
    from cityops.geo.index import haversine_m

    d = haversine_m(lat, lon, w.spot.lat, w.spot.lon)
    return {"source": "manual", "distance_m": round(d, 1), "far_from_case": d > radius, "radius_m": radius}


def _arrive_and_handle(w: Walk, rng: random.Random, cat: Cat, officer: int, twist: Twist, radius: float,
                       late: bool, second_round: bool = False) -> None:
    travel = rng.uniform(35, 60) if twist.slow else rng.uniform(20, 40) if late else rng.uniform(3, 9)
    if twist.no_position:
        lat = lon = None
    elif twist.far_arrival_m and not second_round:
        lat, lon = jitter(w.spot.lat, w.spot.lon, twist.far_arrival_m, rng)
    else:
        lat, lon = w.near()
    w.go(travel, "arrive", "on_scene", officer, "officer", lat=lat, lon=lon, data=_arrival_data(w, lat, lon, radius))
    w.f["arrived_at"] = w.t
    party = twist.void_party or twist.fine_party or twist.order_party
    if twist.fine_party and not second_round:
        measure, amount = "fine", float(rng.choice([200, 500, 1000]))
    elif twist.order_party and not second_round:
        measure, amount = "rectification_order", None
    else:
        options = BACKGROUND_MEASURES + (() if cat.order_first or cat.dept != "enforcement" else ("fine",))
        measure = rng.choice(options)
        amount = 200.0 if measure == "fine" else None
    if party is None and cat.dept == "enforcement" and measure in ("fine", "rectification_order", "warning"):
        party = f"{rng.choice('鑫隆福兴华盛永和佳禾金鼎')}{rng.choice('记号坊斋')}商户{rng.randint(1, 99):02d}"
    photos = [] if twist.no_photo else [AFTER_PHOTO]
    hlat, hlon = (None, None) if twist.no_position else w.near()
    if photos and not second_round:
        # The officer attaches the after-photo (处置后照片) first, as the media service records it.
        w.go(rng.uniform(3, 10), "attach_evidence", "on_scene", officer, "officer", lat=hlat, lon=hlon,
             attachments=list(photos), data={"evidence_id": AFTER_PHOTO, "role": "after", "kind": "image",
                                             "flags": []})
    record = {"measure": measure, "fine_amount": amount, "party_name": party,
              "party_kind": "shop" if party else None, "evidence_ids": photos, "note": "已处置完毕"}
    w.go(rng.uniform(5, 25), "handle", "handled", officer, "officer", lat=hlat, lon=hlon,
         data={"handling": record}, attachments=list(photos))
    w.handling.append({**record, "officer_id": officer, "at": w.t, "party_id_number": None})
    w.f["handled_at"] = w.t


def _feedback_check_close(w: Walk, rng: random.Random, people: People, officer: int, inspector: int, cat: Cat,
                          twist: Twist, rework: bool, arrive_radius_m: float) -> None:
    photos = [] if twist.no_photo else [AFTER_PHOTO]
    w.go(rng.uniform(1, 10), "feed_back", "fed_back", officer, "officer", note="处置完成，已拍照",
         attachments=photos)
    w.f["fed_back_at"] = w.t
    if rework:
        w.go(rng.uniform(20, 50), "check", "checked", inspector, "inspector", data={"passed": False},
             note="仍有残留")
        w.go(10, "rework", "dispatched", people.shift_lead, "shift_lead", data={"rework_count": 1}, note="返工")
        w.f.update(rework_count=1, arrived_at=None, handled_at=None, fed_back_at=None)
        w.go(2, "accept", "accepted", officer, "officer", data={"officer_id": officer})
        w.go(1, "depart", "en_route", officer, "officer")
        _arrive_and_handle(w, rng, cat, officer, twist, arrive_radius_m, late=False, second_round=True)
        w.go(3, "feed_back", "fed_back", officer, "officer", attachments=list(photos))
        w.f["fed_back_at"] = w.t
    w.go(rng.uniform(20, 50), "check", "checked", inspector, "inspector", lat=w.spot.lat, lon=w.spot.lon,
         data={"passed": True})
    w.f["check_passed"] = True
    w.go(rng.uniform(5, 30), "close", "closed", people.shift_lead, "shift_lead")
    w.f["closed_at"] = w.t


def _done(w: Walk) -> Plan:
    assert w.status is not None
    w.f["status"] = w.status
    w.f.setdefault("check_passed", None)
    if w.status in ("closed", "evaluated", "voided", "suspended"):
        w.f.update(step=None, step_started_at=None, step_due_at=None)
    return Plan(w.f, w.steps, w.handling, w.requests, w.survey)
