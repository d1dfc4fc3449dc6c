"""`cityops demo`: the demo district, its departments and people, and weeks of case history walked through the
real services (so timelines, clocks, photo evidence and the audit chain are exactly what production would hold)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from cityops.auth import service as auth_service
from cityops.auth.models import User
from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.case import service as case_service
from cityops.case.schemas import ActionIn, CaseCreate, HandlingIn
from cityops.catalog import service as catalog_service
from cityops.catalog.cache import DEFAULT_EDITION
from cityops.catalog.models import Category
from cityops.db import writing
from cityops.demo import photos
from cityops.demo.district import generate_district, random_point_in
from cityops.geo import service as geo_service
from cityops.org import service as org_service
from cityops.org.models import Department
from cityops.runtime import Runtime

DEMO_PASSWORD = "cityops-demo"
DEPARTMENTS = (
    ("enforcement", "城市管理综合执法大队", "Enforcement brigade"),
    ("sanitation", "环境卫生管理处", "Sanitation"),
    ("municipal", "市政设施管理处", "Municipal facilities"),
    ("landscape", "园林绿化管理处", "Landscaping"),
)
# (username, display name, roles, department code)
PEOPLE: tuple[tuple[str, str, tuple[Role, ...], str | None], ...] = (
    ("admin", "系统管理员", (Role.ADMIN,), None),
    ("commander", "王指挥长", (Role.COMMANDER,), None),
    ("shiftlead", "李值班长", (Role.SHIFT_LEAD,), None),
    ("intake", "张受理员", (Role.INTAKE,), None),
    ("dispatcher", "赵派遣员", (Role.DISPATCHER,), None),
    ("inspector1", "刘监督员", (Role.INSPECTOR,), None),
    ("inspector2", "陈监督员", (Role.INSPECTOR,), None),
    ("inspector3", "杨监督员", (Role.INSPECTOR,), None),
    ("enf_staff", "执法大队调度", (Role.DEPARTMENT,), "enforcement"),
    ("officer1", "周队员", (Role.OFFICER,), "enforcement"),
    ("officer2", "吴队员", (Role.OFFICER,), "enforcement"),
    ("officer3", "郑队员", (Role.OFFICER,), "enforcement"),
    ("officer4", "孙队员", (Role.OFFICER,), "enforcement"),
    ("san_staff", "环卫处调度", (Role.DEPARTMENT,), "sanitation"),
    ("sanitation1", "马环卫", (Role.OFFICER,), "sanitation"),
    ("sanitation2", "胡环卫", (Role.OFFICER,), "sanitation"),
    ("mun_staff", "市政处调度", (Role.DEPARTMENT,), "municipal"),
    ("municipal1", "郭市政", (Role.OFFICER,), "municipal"),
    ("municipal2", "何市政", (Role.OFFICER,), "municipal"),
    ("land_staff", "园林处调度", (Role.DEPARTMENT,), "landscape"),
    ("landscape1", "高园林", (Role.OFFICER,), "landscape"),
    ("resident1", "市民林女士", (Role.RESIDENT,), None),
    ("resident2", "市民罗先生", (Role.RESIDENT,), None),
)
MEASURES = ("on_the_spot_fix", "rectification_order", "warning", "on_the_spot_fix", "fine")


class DemoRefused(Exception):
    """The database is not empty."""


@dataclass
class Seeded:
    users: dict[str, Principal]
    cases: int
    geo: dict[str, int]


async def seed(rt: Runtime, *, days: int = 21, cases_per_day: float = 5.0, seed_value: int = 7,
               now: datetime | None = None, progress: Callable[[int, int], None] | None = None) -> Seeded:
    """Seed an empty database. Refuses a database that already has users, so a demo never mixes with real data."""
    now = now or rt.clock()
    tz = ZoneInfo(rt.settings.timezone)
    async with rt.sessionmaker() as s:
        if (await s.scalar(select(func.count(User.id)))) or 0:
            raise DemoRefused("the database already has users; `cityops demo` seeds an empty database only")
        async with writing(s):
            await catalog_service.load_builtin(s, now=now)
            district = generate_district()
            geo: dict[str, int] = {}
            for layer, fc in district.layers():
                for k, v in (await geo_service.import_geojson(s, data=fc, layer=layer, now=now, actor_id=None)).items():
                    geo[k] = geo.get(k, 0) + v
            depts = {}
            for code, name, name_en in DEPARTMENTS:
                depts[code] = await org_service.create_department(s, code=code, name=name, name_en=name_en, now=now,
                                                                  actor_id=None)
            users: dict[str, Principal] = {}
            for username, display, roles, dept in PEOPLE:
                u = await auth_service.create_user(
                    s, username=username, display_name=display, password=DEMO_PASSWORD, roles=[r.value for r in roles],
                    now=now, department_id=depts[dept].id if dept else None,
                    phone=f"138{random.Random(username).randint(10_000_000, 99_999_999)}")
                users[username] = Principal(u.id, username, display, frozenset(r.value for r in roles),
                                            u.department_id, "session", now + timedelta(days=3650))
        rt.invalidate()
        cats = [c for c in (await s.execute(select(Category).where(
            Category.edition == DEFAULT_EDITION, Category.level == "subclass"))).scalars()
            if c.department_code in depts]
    rng = random.Random(seed_value)
    # The photos draw from a stream of their own, so the case history is the same with or without them.
    photo_rng = random.Random(f"{seed_value}:photos")
    total = int(days * cases_per_day)
    officers = {code: [p for p in users.values() if Role.OFFICER.value in p.roles and p.department_id == d.id]
                for code, d in depts.items()}
    staff = {code: next(p for p in users.values() if Role.DEPARTMENT.value in p.roles and p.department_id == d.id)
             for code, d in depts.items()}
    inspectors = [p for p in users.values() if Role.INSPECTOR.value in p.roles]
    residents = [p for p in users.values() if Role.RESIDENT.value in p.roles]
    made = 0
    for i in range(total):
        # Spread reports over the period, during daytime, oldest first; the newest stay open.
        day = (now - timedelta(days=days)).astimezone(tz).date() + timedelta(days=int(i / cases_per_day))
        start = datetime.combine(day, time(7, 30), tz) + timedelta(minutes=rng.randint(0, 11 * 60))
        if start >= now - timedelta(minutes=20):
            continue
        cat = rng.choice(cats)
        lat, lon = random_point_in(district.bounds, rng)
        reporter = rng.choice(residents) if rng.random() < 0.25 else rng.choice(inspectors)
        age_h = (now - start).total_seconds() / 3600
        await _walk(rt, rng, cat, lat, lon, district.address_for(lat, lon), reporter, start, age_h, users,
                    depts, officers, staff, inspectors, photos.plan_scene(photo_rng, lat, lon))
        made += 1
        if progress:
            progress(i + 1, total)
    return Seeded(users, made, geo)


async def _walk(rt: Runtime, rng: random.Random, cat: Category, lat: float, lon: float, address: str,
                reporter: Principal, t: datetime, age_h: float, users: dict[str, Principal],
                depts: dict[str, Department], officers: dict[str, list[Principal]], staff: dict[str, Principal],
                inspectors: list[Principal], scene: photos.Scene) -> None:
    async with rt.sessionmaker() as s:
        case, _ = await case_service.create(rt, s, caller=reporter, now=t, data=CaseCreate(
            lat=lat, lon=lon, address=address, category_code=cat.code, category_kind=cat.kind,
            description=f"{address}发现{cat.name}", reporter_phone="13800001234" if Role.RESIDENT in reporter.roles
            else None))
    cid = case.id
    await photos.photograph_problem(rt, case_id=cid, reporter=reporter, scene=scene, reported_at=t)

    async def step(who: Principal, minutes: float, **kw: object) -> bool:
        nonlocal t
        t = t + timedelta(minutes=minutes)
        if t >= rt.clock():
            return False
        async with rt.sessionmaker() as s:
            await case_service.act(rt, s, case_id=cid, body=ActionIn(**kw), caller=who, now=t)
        return True

    if rng.random() < 0.05:
        await step(users["shiftlead"], rng.uniform(5, 40), action="void", note="重复上报")
        return
    inspector = rng.choice(inspectors)
    plan: list[tuple[Principal, float, dict[str, object]]] = []
    if Role.RESIDENT in reporter.roles:
        plan += [(users["intake"], rng.uniform(2, 15), {"action": "send_verify", "inspector_id": inspector.user_id}),
                 (inspector, rng.uniform(10, 40), {"action": "verify", "confirmed": True, "lat": lat, "lon": lon})]
    dept = cat.department_code or "enforcement"
    officer = rng.choice(officers[dept])
    late = rng.random() < 0.12
    plan += [
        (users["shiftlead"], rng.uniform(3, 30), {"action": "file"}),
        (users["dispatcher"], rng.uniform(2, 20), {"action": "dispatch", "department_id": depts[dept].id,
                                                   "officer_id": officer.user_id}),
        (officer, rng.uniform(1, 5), {"action": "accept"}),
        (officer, rng.uniform(0.5, 3), {"action": "depart"}),
        (officer, rng.uniform(20, 40) if late else rng.uniform(4, 13), {"action": "arrive", "lat": lat, "lon": lon}),
        (officer, rng.uniform(5, 25), {"action": "handle", "lat": lat, "lon": lon, "handling": HandlingIn(
            measure=(m := rng.choice(MEASURES)), fine_amount=200.0 if m == "fine" else None,
            party_name="某商户" if dept == "enforcement" else None, note="已处置完毕")}),
        (officer, rng.uniform(1, 10), {"action": "feed_back", "note": "处置完成，已拍照"}),
        (inspector, rng.uniform(20, 50), {"action": "check", "passed": True, "lat": lat, "lon": lon}),
        (users["shiftlead"], rng.uniform(5, 30), {"action": "close"}),
    ]
    if rng.random() < 0.08:  # a failed check and one round of rework
        i = next(k for k, p in enumerate(plan) if p[2]["action"] == "check")
        plan[i] = (inspector, plan[i][1], {"action": "check", "passed": False, "note": "仍有残留"})
        plan[i + 1:i + 1] = [(users["shiftlead"], 10, {"action": "rework", "note": "返工"}),
                             (officer, 2, {"action": "accept"}), (officer, 8, {"action": "arrive"}),
                             (officer, 10, {"action": "handle", "handling": HandlingIn(measure="on_the_spot_fix")}),
                             (officer, 3, {"action": "feed_back"}),
                             (inspector, 25, {"action": "check", "passed": True})]
    if Role.RESIDENT in reporter.roles:
        plan.append((reporter, rng.uniform(60, 600), {"action": "evaluate", "satisfaction": rng.choice(
            ["satisfied"] * 8 + ["basically_satisfied", "dissatisfied"])}))
    # Stop the walk at a point that depends on the case's age, so recent cases are still in progress.
    stages = len(plan) if age_h > 30 else rng.randint(1, len(plan) - 1)
    for who, minutes, kw in plan[:stages]:
        if not await step(who, minutes, **kw):
            return
        if kw["action"] == "handle":
            await photos.photograph_result(rt, case_id=cid, officer=who, scene=scene, handled_at=t)
