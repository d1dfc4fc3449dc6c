"""`cityops demo --months N`: months of synthetic but consistent case history, bulk-inserted, with planted
unfair patterns for the supervision flags to find.

Walking hundreds of cases a month through the case service would take minutes, so each case is planned in
pure code (history_plan.py: the same steps, statuses and timeline data the service writes) and inserted in
bulk: cases, requests, timeline, handling records, case-number counters, and audit entries chained with the
same hashes ``audit.service.append`` gives (audit/bulk.py), so ``cityops audit verify`` still passes.

What is planted per calendar month (``HistoryResult.planted`` names the cases by rule): cases closed without a
position, without an after-photo, manual arrivals far away, one party's cases handled and then voided at one
officer's request, a problem recurring at one spot days after closure, fines without a rectification order
(以罚代管), and one area (a street, or a grid in a one-street district) served far more slowly than the rest.
Everything else is clean by every rule, including a party ordered to rectify and fined only later (allowed).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.auth.models import User, UserRole
from cityops.catalog.cache import DEFAULT_EDITION
from cityops.catalog.models import Category, FilingCondition
from cityops.db import writing
from cityops.deadlines.engine import Limit, add_limit
from cityops.deadlines.units import TimeUnit
from cityops.demo.history_insert import insert_plans
from cityops.demo.history_plan import Cat, People, Plan, Spot, Twist, jitter, plan_case
from cityops.errors import InvalidInput
from cityops.evaluation.config import EvaluationConfig, load
from cityops.evaluation.periods import Period, parse_month
from cityops.geo.index import haversine_m
from cityops.geo.models import AreaRow
from cityops.org.models import Department
from cityops.runtime import Runtime

CHANNELS = ("inspector",) * 12 + ("public",) * 4 + ("hotline",) * 3 + ("open311",)
RULES = ("no_position", "no_after_photo", "far_arrival", "repeated_voids", "recurrence", "fine_without_order",
         "equity")


@dataclass
class HistoryResult:
    period: Period
    cases: int = 0
    events: int = 0
    audit_entries: int = 0
    planted: dict[str, set[int]] = field(default_factory=lambda: {r: set() for r in RULES})
    slow_area: tuple[str, int] | None = None


@dataclass(frozen=True)
class _Grid:
    id: int
    name: str
    community_id: int | None
    street_id: int | None
    bounds: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


@dataclass
class _World:
    people: People
    cats: list[Cat]
    grids: list[_Grid]
    slow: tuple[str, int] | None


async def _load_world(session: AsyncSession, cfg: EvaluationConfig) -> _World:
    rows = (await session.execute(select(User.id, User.department_id, UserRole.role)
                                  .join(UserRole, UserRole.user_id == User.id).where(User.is_active)
                                  .order_by(User.id))).all()
    depts = dict((await session.execute(select(Department.code, Department.id))).all())
    code_of = {v: k for k, v in depts.items()}
    by_role: dict[str, list[int]] = {}
    officers: dict[str, list[int]] = {}
    staff: dict[str, int | None] = {}
    for uid, dept, role in rows:
        by_role.setdefault(role, []).append(uid)
        if role == "officer" and dept in code_of:
            officers.setdefault(code_of[dept], []).append(uid)
        if role == "department" and dept in code_of:
            staff.setdefault(code_of[dept], uid)
    for role in ("intake", "shift_lead", "dispatcher", "inspector"):
        if not by_role.get(role):
            raise InvalidInput(f"history needs at least one user with the role {role}", field="role")
    if not officers:
        raise InvalidInput("history needs officers in departments", field="role")
    people = People(by_role["intake"][0], by_role["shift_lead"][0], by_role["dispatcher"][0],
                    tuple(by_role["inspector"]), tuple(by_role.get("resident", ())),
                    {k: tuple(v) for k, v in officers.items()}, staff, depts)
    order_first = set(cfg.flags.fine_without_order.order_first_categories)
    first_cond = (select(FilingCondition.category_id, func.min(FilingCondition.code).label("code"))
                  .group_by(FilingCondition.category_id).subquery())
    cat_rows = (await session.execute(
        select(Category, FilingCondition).join(first_cond, first_cond.c.category_id == Category.id)
        .join(FilingCondition, (FilingCondition.category_id == Category.id)
              & (FilingCondition.code == first_cond.c.code))
        .where(Category.edition == DEFAULT_EDITION, Category.level == "subclass")
        .order_by(Category.id))).all()
    cats = [Cat(c.id, c.code, c.name, c.department_code or "", f.id, f.deadline_value, f.deadline_unit,
                c.code in order_first or (c.parent_code or "") in order_first)
            for c, f in cat_rows if (c.department_code or "") in officers]
    if not cats:
        raise InvalidInput("history needs catalog categories of departments that have officers", field="catalog")
    areas = {a.id: a for a in (await session.execute(select(AreaRow))).scalars()}
    grids = []
    for a in sorted((a for a in areas.values() if a.layer == "grid"), key=lambda a: a.id):
        community = areas.get(a.parent_id) if a.parent_id else None
        street = areas.get(community.parent_id) if community and community.parent_id else None
        grids.append(_Grid(a.id, a.name, community.id if community else None, street.id if street else None,
                           (a.min_lon, a.min_lat, a.max_lon, a.max_lat)))
    if not grids:
        raise InvalidInput("history needs grids: import the district's geography first", field="geo")
    streets = sorted({g.street_id for g in grids if g.street_id})
    slow = ("street", streets[-1]) if len(streets) >= 2 else ("grid", grids[-1].id) if len(grids) >= 2 else None
    return _World(people, cats, grids, slow)


def _spot(rng: random.Random, grids: list[_Grid]) -> Spot:
    g = rng.choice(grids)
    x0, y0, x1, y1 = g.bounds
    mx, my = (x1 - x0) * 0.1, (y1 - y0) * 0.1
    lat, lon = round(rng.uniform(y0 + my, y1 - my), 7), round(rng.uniform(x0 + mx, x1 - mx), 7)
    return Spot(lat, lon, g.id, g.community_id, g.street_id, f"{g.name}内")


def _in_slow(spot: Spot, slow: tuple[str, int] | None) -> bool:
    if slow is None:
        return False
    return (spot.street_id if slow[0] == "street" else spot.grid_id) == slow[1]


def _daytime(rng: random.Random, day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(7, 30), tz) + timedelta(minutes=rng.uniform(0, 11 * 60))


class _Planner:
    """Plans all cases of the window, keeping background cases from forming patterns by accident."""

    def __init__(self, rng: random.Random, world: _World, cfg: EvaluationConfig, due: Callable[..., datetime],
                 radius_m: float) -> None:
        self.rng, self.w, self.cfg, self.due, self.radius = rng, world, cfg, due, radius_m
        self.plans: list[tuple[Plan, Spot, str | None]] = []  # (plan, spot, planted rule)
        self.serial = 0

    def _clashes(self, plan: Plan, spot: Spot) -> bool:
        rec, rv = self.cfg.flags.recurrence, self.cfg.flags.repeated_voids
        t0 = plan.steps[0].at
        dropped = _dropped(plan)
        for other, ospot, _ in self.plans:
            gap = abs((other.steps[0].at - t0).total_seconds()) / 86400
            d = haversine_m(spot.lat, spot.lon, ospot.lat, ospot.lon)
            if other.fields["category_id"] == plan.fields["category_id"] and gap <= rec.within_days + 12 \
                    and d <= 2 * rec.radius_m:
                return True
            if dropped and gap <= 45 and d <= 2 * rv.radius_m and _dropped(other):
                return True
        return False

    def add(self, t0: datetime, *, twist: Twist | None = None, cat: Cat | None = None, spot: Spot | None = None,
            channel: str | None = None, rule: str | None = None, check: bool = True) -> Plan:
        """Plan one case; with ``check``, re-draw (place, category, path) until it forms no pattern by accident."""
        for _ in range(30):
            c = cat or self.rng.choice(self.w.cats)
            s = spot or _spot(self.rng, self.w.grids)
            tw = replace(twist or Twist(), slow=_in_slow(s, self.w.slow))
            self.serial += 1
            plan = plan_case(rng=self.rng, t0=t0, spot=s, cat=c, people=self.w.people,
                             channel=channel or self.rng.choice(CHANNELS), due=self.due, twist=tw,
                             serial=self.serial, arrive_radius_m=self.radius)
            if not check or not self._clashes(plan, s):
                break
        self.plans.append((plan, s, rule))
        return plan


def _dropped(plan: Plan) -> bool:
    return any(s.action == "void" or (s.action == "approve" and s.data.get("kind") in ("void", "return"))
               for s in plan.steps)


def _plant_month(p: _Planner, first: date, last: date, tz: ZoneInfo, label: str) -> None:
    """One month's planted patterns, on days inside [first, last]."""
    rng, w, cfg = p.rng, p.w, p.cfg
    days = (last - first).days + 1
    if days < 20:  # too short a stretch for the patterns (and their partners) to fit inside it
        return

    def day(frac: float) -> date:
        return first + timedelta(days=min(days - 1, int(frac * days)))

    dept = "enforcement" if "enforcement" in w.people.officers else sorted(w.people.officers)[0]
    offs = w.people.officers[dept]
    dept_cats = [c for c in w.cats if c.dept == dept]
    order_cats = [c for c in dept_cats if c.order_first] or dept_cats
    for i in range(2):
        p.add(_daytime(rng, day(0.1 + 0.4 * i), tz), twist=Twist(no_position=True, officer=offs[0]),
              rule="no_position")
        p.add(_daytime(rng, day(0.15 + 0.4 * i), tz), twist=Twist(no_photo=True, officer=offs[1 % len(offs)]),
              rule="no_after_photo")
        far = cfg.flags.far_arrival.max_distance_m * rng.uniform(2.0, 3.0)
        p.add(_daytime(rng, day(0.2 + 0.4 * i), tz), twist=Twist(far_arrival_m=far, officer=offs[0]),
              rule="far_arrival")
        p.add(_daytime(rng, day(0.25 + 0.4 * i), tz), cat=rng.choice(order_cats),
              twist=Twist(fine_party=f"福兴烟酒店{label}-{i + 1}", officer=offs[0]), rule="fine_without_order")
    # One party, one spot, one officer: handled, then voided at the officer's request, three times.
    spot = _spot(rng, w.grids)
    rv = cfg.flags.repeated_voids
    for i in range(max(3, rv.min_cases)):
        lat, lon = jitter(spot.lat, spot.lon, rng.uniform(0, rv.radius_m / 3), rng)
        p.add(_daytime(rng, day(0.1 + 0.25 * i), tz), cat=rng.choice(dept_cats), spot=replace(spot, lat=lat, lon=lon),
              twist=Twist(void_party=f"鑫隆酒楼{label}", officer=offs[1 % len(offs)]), rule="repeated_voids",
              check=i == 0)
    # The same problem again at the same spot shortly after closure.
    rec = cfg.flags.recurrence
    spot = _spot(rng, w.grids)
    cat = rng.choice(w.cats)
    first_case = p.add(_daytime(rng, day(0.3), tz), cat=cat, spot=spot, twist=Twist(never_void=True),
                       rule="recurrence")
    closed = first_case.fields.get("closed_at") or first_case.steps[-1].at
    lat, lon = jitter(spot.lat, spot.lon, rng.uniform(0, rec.radius_m / 3), rng)
    again = closed + timedelta(days=rng.uniform(0.2, rec.within_days / 3))
    p.add(again, cat=cat, spot=replace(spot, lat=lat, lon=lon), twist=Twist(never_void=True), rule="recurrence",
          check=False)
    # Allowed escalation (not planted): an order first, a fine to the same party later on.
    spot = _spot(rng, w.grids)
    cat = rng.choice(order_cats)
    party = f"华盛超市{label}"
    p.add(_daytime(rng, day(0.05), tz), cat=cat, spot=spot, twist=Twist(order_party=party, never_void=True))
    later = _daytime(rng, day(0.05) + timedelta(days=int(rec.within_days) + 3), tz)
    p.add(later, cat=cat, spot=spot, twist=Twist(fine_party=party, never_void=True), check=False)


def window(end: datetime, months: int, tz: ZoneInfo) -> Period:
    """From the first day of the month ``months`` months before ``end``'s month, up to ``end``."""
    local = end.astimezone(tz)
    y, m = local.year, local.month - months
    while m <= 0:
        y, m = y - 1, m + 12
    start = parse_month(f"{y:04d}-{m:02d}", tz).start
    return Period(start, end, f"{start.astimezone(tz):%Y-%m-%d}~{local:%Y-%m-%d}")


async def generate(rt: Runtime, *, months: int, end: datetime, per_month: float = 150.0, seed: int = 11,
                   plant: bool = True, progress: Callable[[str], None] | None = None) -> HistoryResult:
    """Generate and insert the history of ``months`` months before ``end`` (one transaction)."""
    if months < 1 or months > 60:
        raise InvalidInput("months must be between 1 and 60", field="months")
    tz = ZoneInfo(rt.settings.timezone)
    cfg = load(rt.settings)
    period = window(end, months, tz)
    result = HistoryResult(period)
    rng = random.Random(seed)
    async with rt.sessionmaker() as s:
        world = await _load_world(s, cfg)
        if not plant:
            world.slow = None  # clean history: every area served alike
        cal = await rt.calendar(s)

        def due(start: datetime, value: float, unit: str) -> datetime:
            return add_limit(start, Limit(value, TimeUnit(unit)), cal).due_at

        planner = _Planner(rng, world, cfg, due, rt.settings.tracking.arrival_radius_m)
        first_day = period.start.astimezone(tz).date()
        last_day = (period.end - timedelta(seconds=1)).astimezone(tz).date()
        if plant:
            d = first_day
            while d <= last_day:
                month_end = (d.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
                _plant_month(planner, d, min(month_end, last_day), tz, f"{d:%Y%m}")
                d = month_end + timedelta(days=1)
        days = (last_day - first_day).days + 1
        total = int(round(per_month * days / 30.44))
        for i in range(total):
            day = first_day + timedelta(days=int(i * days / max(total, 1)))
            planner.add(_daytime(rng, day, tz))
        if progress:
            progress(f"planned {len(planner.plans)} cases")
        plans = sorted((p for p in planner.plans if p[0].steps[0].at < period.end), key=lambda p: p[0].steps[0].at)
        async with writing(s):
            ids = await insert_plans(rt, s, plans, tz, result)
        if progress:
            progress(f"inserted {result.cases} cases, {result.events} timeline entries, {result.audit_entries} "
                     "audit entries")
    if plant:
        for (plan, spot, rule), cid in zip(plans, ids, strict=True):
            if rule:
                result.planted[rule].add(cid)
            if plan.fields.get("status") != "voided" and _in_slow(spot, world.slow) and any(
                    st.action == "arrive" for st in plan.steps) and not any(
                    st.action == "approve" and st.data.get("kind") == "suspend" for st in plan.steps):
                result.planted["equity"].add(cid)
        result.slow_area = world.slow
    rt.invalidate()
    return result


def history_end(rt: Runtime, days: int) -> datetime:
    """Where the history stops: local midnight of the first day `cityops demo --days` walks through."""
    tz = ZoneInfo(rt.settings.timezone)
    first = (rt.clock() - timedelta(days=days)).astimezone(tz).date()
    return datetime.combine(first, time(0), tz)
