"""A case as an Open311 service request, for anyone to read: pure functions, no database.

What is public: the service, the reporter's description, where, when, status and the public timeline (status changes
with their notes). What never is: who reported (name, phone, e-mail, device, account), who handled it, the
handling party, internal requests and escalations. Phone numbers, e-mail addresses and ID-card numbers written
into the description or a note are masked too, because people do write them there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from cityops.case.models import Case, CaseEvent
from cityops.case.workflow import TERMINAL
from cityops.open311.formats import w3c
from cityops.open311.servicetypes import COMMON_ATTRIBUTES, CONDITION, ServiceCatalog, notice_for

STATUS_NAMES = {
    "reported": "已上报 reported", "verifying": "核实中 being verified", "verified": "已核实 verified",
    "filed": "已立案 filed", "dispatched": "已派遣 dispatched", "accepted": "已接单 accepted",
    "en_route": "出发处置 on the way", "on_scene": "已到场 on site", "handled": "已处置 handled",
    "fed_back": "已反馈 handling reported", "checked": "已核查 checked", "closed": "已结案 closed",
    "evaluated": "已评价 evaluated", "suspended": "挂账 on hold", "voided": "已作废 voided",
}
# FixMyStreet's update statuses (its Open311 extension), by our status.
FMS_STATUS = {
    "reported": "open", "verifying": "investigating", "verified": "investigating", "filed": "action_scheduled",
    "dispatched": "in_progress", "accepted": "in_progress", "en_route": "in_progress", "on_scene": "in_progress",
    "handled": "in_progress", "fed_back": "in_progress", "checked": "in_progress", "closed": "fixed",
    "evaluated": "fixed", "suspended": "action_scheduled", "voided": "closed",
}
_CLOSED = frozenset(s.value for s in TERMINAL)
MEDIA_PATH = "/open311/v2/media/"

_MOBILE = re.compile(r"(?<![\d+])(?:\+?86[- ]?)?(1[3-9]\d)[- ]?\d{4}[- ]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})-\d{7,8}(?!\d)")
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_EMAIL = re.compile(r"([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")


def redact(text: str | None) -> str | None:
    """Mask personal data people type into free text: 138****5678, a***@example.org, 410802********123X."""
    if not text:
        return text
    text = _ID_CARD.sub(r"\1********\2", text)
    text = _MOBILE.sub(r"\1****\2", text)
    text = _LANDLINE.sub(r"\1-********", text)
    return _EMAIL.sub(r"\1***@\2", text)


def open_or_closed(status: str) -> str:
    return "closed" if status in _CLOSED else "open"


def is_public(e: CaseEvent) -> bool:
    """The public timeline: the report and every change of status (internal moves and requests stay inside)."""
    return e.action == "report" or e.from_status != e.to_status


def media_urls(attachments: list[str], base_url: str) -> list[str]:
    """Attachments that are media a member of the public may fetch: URLs given by the app, or files uploaded
    through Open311 (stored as a path on this server). Evidence ids of other channels are not URLs and stay out."""
    out = []
    for a in attachments:
        if a.startswith(MEDIA_PATH):
            out.append(base_url.rstrip("/") + a)
        elif a.startswith(("http://", "https://")):
            out.append(a)
    return out


@dataclass
class Context:
    """Lookups for one batch of cases (filled by the service from a few queries)."""

    catalog: ServiceCatalog
    tz: tzinfo
    base_url: str
    departments: dict[int, str] = field(default_factory=dict)
    areas: dict[int, tuple[str, str]] = field(default_factory=dict)  # id → (code, name)
    events: dict[int, list[CaseEvent]] = field(default_factory=dict)  # public events per case, oldest first
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)  # submitted attribute answers per case


def status_notes(case: Case, events: list[CaseEvent]) -> str:
    """Why the case is in its current state: the note of the change that put it there, else the state's name."""
    last = next((e for e in reversed(events) if e.action != "report" and e.to_status == case.status), None)
    note = redact(last.note) if last is not None and last.note else None
    return note or STATUS_NAMES.get(case.status, case.status)


def _address(case: Case, ctx: Context) -> str | None:
    if case.address:
        return case.address
    names = [ctx.areas[i][1] for i in (case.grid_id, case.community_id, case.street_id) if i in ctx.areas]
    return ", ".join(names) or None


def request_item(case: Case, ctx: Context, *, extensions: bool = False) -> dict[str, Any]:
    cat = ctx.catalog.category(case.category_id)
    cond = ctx.catalog.condition(case.condition_id)
    events = ctx.events.get(case.id, [])
    report = next((e for e in events if e.action == "report"), None)
    photos = media_urls(report.attachments if report is not None else [], ctx.base_url)
    updated = case.closed_at if case.status in _CLOSED and case.closed_at else case.updated_at
    item: dict[str, Any] = {
        "service_request_id": case.case_no,
        "status": open_or_closed(case.status),
        "status_notes": status_notes(case, events),
        "service_name": cat.name if cat else None,
        "service_code": ctx.catalog.code_of(case.category_id),
        "description": redact(case.description) or None,
        "agency_responsible": ctx.departments.get(case.department_id) if case.department_id else None,
        "service_notice": notice_for(cond),
        "requested_datetime": w3c(case.created_at, ctx.tz),
        "updated_datetime": w3c(updated, ctx.tz),
        "expected_datetime": w3c(case.due_at, ctx.tz),
        "address": redact(_address(case, ctx)),
        "address_id": ctx.areas[case.grid_id][0] if case.grid_id in ctx.areas else None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": photos[0] if photos else None,
    }
    if extensions:
        item["attributes"] = _answers(ctx.answers.get(case.id, {}), cond.code if cond else None)
        item["extended_attributes"] = {
            "channel": case.channel,
            "detailed_status": case.status,
            "detailed_status_name": STATUS_NAMES.get(case.status, case.status),
            "grid": ctx.areas[case.grid_id][1] if case.grid_id in ctx.areas else None,
            "community": ctx.areas[case.community_id][1] if case.community_id in ctx.areas else None,
            "street": ctx.areas[case.street_id][1] if case.street_id in ctx.areas else None,
            "photos": [{"media_url": u, "title": "Submitted", "created_at": w3c(case.created_at, ctx.tz)}
                       for u in photos],
        }
        item["notes"] = [note_item(e, ctx) for e in events]
    return item


def note_item(e: CaseEvent, ctx: Context) -> dict[str, Any]:
    name = STATUS_NAMES.get(e.to_status, e.to_status)
    if e.action == "report":
        return {"datetime": w3c(e.at, ctx.tz), "description": name, "type": "submitted"}
    note = redact(e.note) if e.note else None
    return {"datetime": w3c(e.at, ctx.tz), "description": f"{name}: {note}" if note else name, "type": e.action}


_LABELS = {CONDITION: "立案条件 filing condition", **{c: d.split(" ", 1)[0] for c, _, d, _ in COMMON_ATTRIBUTES}}


def _answers(answers: dict[str, Any], condition: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if condition is not None:
        out.append({"code": CONDITION, "label": _LABELS[CONDITION], "value": condition})
    for code, value in answers.items():
        if code == CONDITION:
            continue
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else value
        out.append({"code": code, "label": _LABELS.get(code, code), "value": redact(str(shown))})
    return out


def update_item(e: CaseEvent, case_no: str, ctx: Context) -> dict[str, Any]:
    """One FixMyStreet ``request_update``: a public change of a case."""
    note = redact(e.note) if e.note else None
    photos = media_urls(e.attachments, ctx.base_url)
    return {
        "update_id": str(e.id),
        "service_request_id": case_no,
        "status": FMS_STATUS.get(e.to_status, "open"),
        "external_status_code": e.to_status,
        "updated_datetime": w3c(e.at, ctx.tz),
        "description": note or STATUS_NAMES.get(e.to_status, e.to_status),
        "media_url": photos[0] if photos else "",
    }


__all__ = ["STATUS_NAMES", "Context", "redact", "request_item", "update_item"]
