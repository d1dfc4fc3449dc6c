"""Open311 services from the catalog: one service per subclass (小类) of the default edition.

``service_code`` is the subclass code (``06010`` 暴露垃圾). Where the edition uses the same code for a component and a
matter (GB/T 47678.5 numbers 路灯 01037 and 路灯异常 01037 alike), the code gets the kind as a suffix:
``01037-component`` and ``01037-event``. ``group`` is the subclass's class (大类) name. The service definition
offers the filing conditions (立案条件) as a single-choice attribute plus a few questions covering every datatype
of the spec; answers are checked here, purely.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cityops.catalog.cache import DEFAULT_EDITION, CatalogCache
from cityops.catalog.models import Category, FilingCondition
from cityops.open311.formats import clean_text

UNIT_NAMES = {
    "urgent_hours": "紧急工作时", "working_hours": "工作时", "working_days": "工作日", "natural_days": "自然日",
    "minutes": "分钟",
}
KIND_NAMES = {"component": "部件", "event": "事项"}
CONDITION = "condition"

# The questions every service asks besides the filing condition: (code, datatype, description, values).
HAZARDS = (("blocks_traffic", "影响通行 blocks traffic"), ("safety_risk", "存在安全隐患 safety risk"),
           ("recurring", "反复出现 keeps coming back"), ("at_night", "夜间发生 happens at night"))
COMMON_ATTRIBUTES: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("observed_at", "datetime",
     "发现时间 When did you see it? (W3C datetime with zone, e.g. 2026-11-30T08:15:00+08:00)", ()),
    ("quantity", "number", "数量 How many (items, spots, bags)?", ()),
    ("landmark", "string", "附近标志物 A landmark nearby (shop name, gate, bus stop)", ()),
    ("location_details", "text", "位置补充说明 How to find it (side of the road, entrance, floor)", ()),
    ("hazards", "multivaluelist", "现场情况 What applies at the site?", HAZARDS),
)
MAX_STRING = 200
MAX_TEXT = 2000


def deadline_text(cond: FilingCondition) -> str:
    value = cond.deadline_value
    shown = str(int(value)) if float(value).is_integer() else f"{value:g}"
    return f"{shown} {UNIT_NAMES.get(cond.deadline_unit, cond.deadline_unit)}"


def notice_for(cond: FilingCondition | None) -> str | None:
    """service_notice: what the bureau commits to under the filing standard."""
    if cond is None:
        return None
    return f"按立案标准「{cond.description}」，立案派遣后 {deadline_text(cond)}内处置 (to be handled within " \
           f"{cond.deadline_value:g} {cond.deadline_unit.replace('_', ' ')} of dispatch)"


@dataclass(frozen=True)
class ServiceType:
    code: str
    category: Category
    group: str
    conditions: tuple[FilingCondition, ...]


class ServiceCatalog:
    """Built from the runtime's CatalogCache; rebuilt whenever that cache object changes."""

    def __init__(self, cache: CatalogCache, edition: str = DEFAULT_EDITION) -> None:
        self.source = cache
        self.edition = edition
        self.services: list[ServiceType] = []
        self.by_code: dict[str, ServiceType] = {}
        self._code_of: dict[int, str] = {}
        classes = {(c.edition, c.kind, c.code): c for cats in cache.by_code.values() for c in cats
                   if c.level == "class"}
        for (ed, code), cats in cache.by_code.items():
            subs = [c for c in cats if c.level == "subclass"]
            for c in subs:
                self._code_of[c.id] = f"{code}-{c.kind}" if len(cats) > 1 else code
            if ed != edition:
                continue
            for c in subs:
                parent = classes.get((ed, c.kind, c.parent_code or ""))
                st = ServiceType(self._code_of[c.id], c, parent.name if parent else KIND_NAMES.get(c.kind, c.kind),
                                 tuple(cache.conditions.get(c.id, ())))
                self.services.append(st)
                self.by_code[st.code] = st
        self.services.sort(key=lambda s: (s.category.kind != "event", s.code))
        self._conditions = {f.id: f for fs in cache.conditions.values() for f in fs}

    def code_of(self, category_id: int | None) -> str | None:
        return self._code_of.get(category_id) if category_id is not None else None

    def category(self, category_id: int | None) -> Category | None:
        return self.source.by_id.get(category_id) if category_id is not None else None

    def condition(self, condition_id: int | None) -> FilingCondition | None:
        return self._conditions.get(condition_id) if condition_id is not None else None

    def lookup(self, service_code: str) -> ServiceType | None:
        found = self.by_code.get(service_code)
        if found is None and "-" in service_code:  # the qualified form of an unambiguous code
            code, _, kind = service_code.rpartition("-")
            found = self.by_code.get(code)
            if found is not None and found.category.kind != kind:
                found = None
        return found


def service_item(st: ServiceType) -> dict[str, Any]:
    c = st.category
    name_en = f"（{c.name_en}）" if c.name_en else ""
    conds = "；".join(f"{f.description}（{deadline_text(f)}）" for f in st.conditions)
    description = f"{KIND_NAMES.get(c.kind, c.kind)} {c.name}{name_en}" + (f"。立案条件：{conds}" if conds else "")
    return {"service_code": st.code, "service_name": c.name, "description": description, "metadata": True,
            "type": "realtime", "keywords": ", ".join(c.keywords or [c.name]), "group": st.group}


def definition(st: ServiceType) -> dict[str, Any]:
    attrs: list[dict[str, Any]] = []
    order = 1
    if st.conditions:
        attrs.append({
            "variable": True, "code": CONDITION, "datatype": "singlevaluelist", "required": len(st.conditions) > 1,
            "datatype_description": "选择一项立案条件 Choose the condition that matches what you see",
            "order": order, "description": "立案条件 Which of these describes the problem?",
            "values": [{"key": f.code, "name": f"{f.description}（{deadline_text(f)}）"} for f in st.conditions],
        })
        order += 1
    for code, datatype, description, values in COMMON_ATTRIBUTES:
        attr: dict[str, Any] = {"variable": True, "code": code, "datatype": datatype, "required": False,
                                "datatype_description": None, "order": order, "description": description}
        if values:
            attr["values"] = [{"key": k, "name": n} for k, n in values]
        attrs.append(attr)
        order += 1
    attrs.append({"variable": False, "code": "standard", "datatype": "string", "required": False,
                  "datatype_description": None, "order": order,
                  "description": f"{st.category.name}：处置时限自派遣起计算，按所选立案条件 "
                                 "(the deadline runs from dispatch, per the chosen condition)"})
    return {"service_code": st.code, "attributes": attrs}


def check_answers(st: ServiceType, answers: Mapping[str, list[str]]) -> tuple[str | None, dict[str, Any], list[str]]:
    """Check ``attribute[code]`` answers: (condition code, other answers, problems). Pure."""
    problems: list[str] = []
    known = {CONDITION} if st.conditions else set()
    known |= {a[0] for a in COMMON_ATTRIBUTES}
    for code in answers:
        if code not in known:
            problems.append(f"attribute[{code}] is not an attribute of service {st.code}")
    condition = None
    if st.conditions:
        got = answers.get(CONDITION, [])
        keys = {f.code for f in st.conditions}
        if not got:
            if len(st.conditions) > 1:
                problems.append(f"attribute[{CONDITION}] is required: one of {', '.join(sorted(keys))}")
        elif len(got) > 1 or got[0] not in keys:
            problems.append(f"attribute[{CONDITION}] must be one of {', '.join(sorted(keys))}")
        else:
            condition = got[0]
    others: dict[str, Any] = {}
    for code, datatype, _, values in COMMON_ATTRIBUTES:
        got = [v for v in answers.get(code, []) if v != ""]
        if not got:
            continue
        value, problem = _check(code, datatype, got, {k for k, _ in values})
        if problem:
            problems.append(problem)
        else:
            others[code] = value
    return condition, others, problems


def _check(code: str, datatype: str, got: list[str], keys: set[str]) -> tuple[Any, str | None]:
    name = f"attribute[{code}]"
    if datatype == "multivaluelist":
        bad = [v for v in got if v not in keys]
        if bad:
            return None, f"{name}: {bad[0]!r} is not one of {', '.join(sorted(keys))}"
        return list(dict.fromkeys(got)), None
    if len(got) > 1:
        return None, f"{name} takes one value"
    v = got[0]
    if datatype == "number":
        try:
            n = float(v)
        except ValueError:
            return None, f"{name} must be a number"
        if not math.isfinite(n) or not 0 <= n <= 1_000_000:
            return None, f"{name} must be a number from 0 to 1000000"
        return int(n) if n.is_integer() else n, None
    if datatype == "datetime":
        parsed = parse_w3c(v)
        if parsed is None:
            return None, f"{name} must be a W3C datetime with a zone, e.g. 2026-11-30T08:15:00+08:00"
        return parsed.isoformat(), None
    v = clean_text(v)
    if datatype == "string":
        if "\n" in v or "\r" in v or len(v) > MAX_STRING:
            return None, f"{name} must be one line of at most {MAX_STRING} characters"
        return v, None
    if len(v) > MAX_TEXT:
        return None, f"{name} must be at most {MAX_TEXT} characters"
    return v, None


def parse_w3c(value: str) -> datetime | None:
    """A W3C datetime with its zone (``Z`` or ``±HH:MM``); None for anything else, including a missing zone."""
    text = value.strip()
    if "T" not in text or len(text) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
