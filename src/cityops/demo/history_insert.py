"""Bulk insertion of planned history (history_plan.py): cases, requests, evidence, timeline, handling records,
survey answers, day counters of the case numbers, and the audit entries the services would have written.

After-photos are real evidence rows (role "after") of one small synthetic JPEG stored once in the blob store,
so timeline attachments name evidence ids of their own case, as the case service requires.
"""

from __future__ import annotations

import hashlib
import io
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit.bulk import NewEntry, append_many
from cityops.case.models import Case, CaseCounter, CaseEvent, CaseRequest, HandlingRecord
from cityops.demo.history_plan import AFTER_PHOTO, Plan, Spot
from cityops.evaluation.models import SurveyResponse
from cityops.media.models import Blob, Evidence
from cityops.runtime import Runtime

if TYPE_CHECKING:
    from cityops.demo.history import HistoryResult


async def placeholder_photo(rt: Runtime, s: AsyncSession, now: datetime) -> Blob:
    """One synthetic after-photo (a plain JPEG), stored once and shared by every generated case."""
    from PIL import Image, ImageDraw

    from cityops.media.storage import Spool, store_for

    im = Image.new("RGB", (320, 240), (176, 190, 197))
    ImageDraw.Draw(im).text((12, 12), "cityops demo: after-photo", fill=(33, 33, 33))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    blob = await s.get(Blob, sha)
    if blob is None:
        # Written next to the store, not in /tmp: the store renames it in, and /tmp may be another filesystem.
        scratch = Spool(rt.settings.media_dir).scratch(f"{sha}.jpg")
        scratch.write_bytes(data)
        store_for(rt.settings.media_dir).put(scratch, sha)
        blob = Blob(sha256=sha, size=len(data), mime="image/jpeg", kind="image", width=320, height=240,
                    meta={"synthetic": True}, created_at=now)
        s.add(blob)
        await s.flush()
    return blob


def _case_rows(plans: list[tuple[Plan, Spot, str | None]], tz: ZoneInfo,
               next_no: dict[Any, int]) -> list[dict[str, Any]]:
    rows = []
    for plan, spot, _ in plans:
        t0 = plan.steps[0].at
        d = t0.astimezone(tz).date()
        next_no[d] = next_no.get(d, 0) + 1
        f = plan.fields
        rows.append({
            "case_no": f"{d:%Y%m%d}{next_no[d]:05d}", "status": f["status"], "channel": f["channel"],
            "title": plan.steps[0].note.split("发现")[-1] if plan.steps[0].note else "问题",
            "description": plan.steps[0].note or "", "address": spot.address, "lat": spot.lat, "lon": spot.lon,
            "grid_id": spot.grid_id, "community_id": spot.community_id, "street_id": spot.street_id,
            "category_id": f["category_id"], "condition_id": f["condition_id"], "reporter_id": f["reporter_id"],
            "reporter_name": f["reporter_name"], "reporter_phone": f["reporter_phone"],
            "inspector_id": f["inspector_id"], "department_id": f.get("department_id"),
            "officer_id": f.get("officer_id"), "pending_request_id": None,
            "status_before_suspend": f.get("status_before_suspend"), "check_passed": f.get("check_passed"),
            "rework_count": f["rework_count"], "return_count": f["return_count"],
            "extension_count": f["extension_count"], "deadline_value": f.get("deadline_value"),
            "deadline_unit": f.get("deadline_unit"), "due_at": f.get("due_at"), "due_provisional": False,
            "step": f.get("step"), "step_started_at": f.get("step_started_at"), "step_due_at": f.get("step_due_at"),
            "pauses": f["pauses"], "suspended_at": f.get("suspended_at"), "escalation_level": 0,
            "satisfaction": f["satisfaction"], "created_at": t0, "updated_at": plan.steps[-1].at,
            "filed_at": f.get("filed_at"), "dispatched_at": f.get("dispatched_at"), "arrived_at": f.get("arrived_at"),
            "handled_at": f.get("handled_at"), "fed_back_at": f.get("fed_back_at"), "closed_at": f.get("closed_at"),
            "version": sum(st.action != "attach_evidence" for st in plan.steps),
        })
    return rows


def _fill(value: Any, photo: str | None) -> Any:
    """Replace the after-photo placeholder by the evidence id, wherever it sits."""
    if value == AFTER_PHOTO:
        return photo
    if isinstance(value, list):
        return [_fill(v, photo) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, photo) for k, v in value.items()}
    return value


async def insert_plans(rt: Runtime, s: AsyncSession, plans: list[tuple[Plan, Spot, str | None]], tz: ZoneInfo,
                       result: HistoryResult) -> list[int]:
    days = sorted({p.steps[0].at.astimezone(tz).date() for p, _, _ in plans})
    counters = dict((await s.execute(select(CaseCounter.day, CaseCounter.last).where(CaseCounter.day.in_(days)))).all())
    next_no = dict(counters)
    rows = _case_rows(plans, tz, next_no)
    # The table, not the ORM entity: an ORM insert would reset the version counter to 1.
    cases = cast(Table, Case.__table__)
    ids = list((await s.execute(insert(cases).returning(cases.c.id, sort_by_parameter_order=True), rows)).scalars())
    for d, last in next_no.items():
        if d in counters:
            await s.execute(update(CaseCounter).where(CaseCounter.day == d).values(last=last))
        else:
            await s.execute(insert(CaseCounter).values(day=d, last=last))
    req_rows = [{**r, "case_id": cid} for (plan, _, _), cid in zip(plans, ids, strict=True) for r in plan.requests]
    req_ids = list((await s.execute(insert(CaseRequest).returning(CaseRequest.id, sort_by_parameter_order=True),
                                    req_rows)).scalars()) if req_rows else []
    attaches = [(cid, st) for (plan, _, _), cid in zip(plans, ids, strict=True) for st in plan.steps
                if st.action == "attach_evidence"]
    ev_table = cast(Table, Evidence.__table__)
    photo: Blob | None = None
    ev_ids: list[int] = []
    if attaches:
        photo = await placeholder_photo(rt, s, attaches[0][1].at)
        ev_ids = list((await s.execute(insert(ev_table).returning(ev_table.c.id, sort_by_parameter_order=True), [
            {"case_id": cid, "blob_sha256": photo.sha256, "upload_id": photo.sha256[:32], "role": "after",
             "filename": "after.jpg", "uploaded_by": st.actor_id, "attached_by": st.actor_id, "attached_at": st.at,
             "device_time": st.at, "device_lat": st.lat, "device_lon": st.lon, "note": None, "flags": [],
             "public": False, "case_event_id": None} for cid, st in attaches])).scalars())
    evidence_of = {cid: str(eid) for (cid, _), eid in zip(attaches, ev_ids, strict=True)}
    events: list[dict[str, Any]] = []
    hrecs: list[dict[str, Any]] = []
    surveys: list[dict[str, Any]] = []
    audit: list[NewEntry] = []
    k = 0
    for (plan, spot, _), cid, row in zip(plans, ids, rows, strict=True):
        base, k = k, k + len(plan.requests)
        ph = evidence_of.get(cid)
        for st in plan.steps:
            data = _fill(dict(st.data), ph)
            attachments = _fill(st.attachments, ph)
            if st.request is not None:
                data = {"request_id": req_ids[base + st.request], **data}
            events.append({"case_id": cid, "action": st.action, "from_status": st.from_status,
                           "to_status": st.to_status, "actor_id": st.actor_id, "actor_role": st.actor_role,
                           "at": st.at, "lat": st.lat, "lon": st.lon, "note": st.note,
                           "attachments": attachments, "data": data})
            if st.action == "report":
                audit.append(NewEntry(st.at, st.actor_id, "case.report", "case", cid, {
                    "case_no": row["case_no"], "channel": row["channel"], "lat": spot.lat, "lon": spot.lon,
                    "category_id": row["category_id"], "condition_id": row["condition_id"]}))
            elif st.action == "attach_evidence":
                assert photo is not None
                audit.append(NewEntry(st.at, st.actor_id, "evidence.attached", "evidence", int(ph or 0), {
                    "case_id": cid, "sha256": photo.sha256, "size": photo.size, "mime": photo.mime,
                    "upload_id": photo.sha256[:32], "role": "after", "flags": [], "device_time": st.at.isoformat(),
                    "lat": st.lat, "lon": st.lon, "captured_at": None, "captured_lat": None, "captured_lon": None}))
            else:
                audit.append(NewEntry(st.at, st.actor_id, f"case.{st.action}", "case", cid, {
                    "from": st.from_status, "to": st.to_status, "role": st.actor_role, "lat": st.lat, "lon": st.lon,
                    "note": st.note, "attachments": attachments, **data}))
        hrecs += [{**_fill(h, ph), "case_id": cid} for h in plan.handling]
        if plan.survey is not None:
            surveys.append({**plan.survey, "case_id": cid, "comment": None, "recorded_by": None})
            audit.append(NewEntry(plan.survey["responded_at"], None, "survey.answered", "case", cid, {
                "channel": plan.survey["channel"], "satisfaction": plan.survey["satisfaction"], "comment": None}))
    ev_rows = cast(Table, CaseEvent.__table__)
    event_ids = list((await s.execute(insert(ev_rows).returning(ev_rows.c.id, sort_by_parameter_order=True),
                                      events)).scalars())
    links = [{"eid": int(e["data"]["evidence_id"]), "ceid": i} for e, i in zip(events, event_ids, strict=True)
             if e["action"] == "attach_evidence"]
    if links:
        await s.execute(update(ev_table).where(ev_table.c.id == bindparam("eid"))
                        .values(case_event_id=bindparam("ceid")), links)
    if hrecs:
        await s.execute(insert(HandlingRecord), hrecs)
    if surveys:
        await s.execute(insert(SurveyResponse), surveys)
    audit.sort(key=lambda e: e.at)
    result.audit_entries = await append_many(s, audit)
    result.cases, result.events = len(ids), len(events)
    return ids
