"""`cityops demo` seeds photo evidence through the real pipeline: the reporter's photo right after the report, the
officer's photo at handling, each with matching EXIF (no flags), derivatives, stored bytes and audit entries,
readable through the evidence API like any other evidence."""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import httpx
from PIL import Image
from sqlalchemy import func, select

from cityops.audit import service as audit_service
from cityops.audit.models import AuditEntry
from cityops.auth.models import UserRole
from cityops.case.models import Case, CaseEvent
from cityops.demo.photos import PHOTO_SIZE
from cityops.demo.seed import DEMO_PASSWORD, seed
from cityops.media import maintenance
from cityops.media.models import Blob, Derivative, Evidence
from cityops.runtime import Runtime

REPORTER_ROLES = {"before", "resident_photo"}


async def seed_small(rt: Runtime) -> None:
    await seed(rt, days=3, cases_per_day=4)


@dataclass
class Seeded:
    evidence: list[tuple[Evidence, Blob, Case]]
    derivatives: dict[str, set[str]]  # blob sha256 → derivative kinds
    timelines: dict[int, list[CaseEvent]]  # case id → its events in time order
    cases: list[Case]
    residents: set[int]


async def load(rt: Runtime) -> Seeded:
    async with rt.sessionmaker() as s:
        evidence = [(e, b, c) for e, b, c in (await s.execute(
            select(Evidence, Blob, Case).join(Blob, Blob.sha256 == Evidence.blob_sha256)
            .join(Case, Case.id == Evidence.case_id).order_by(Evidence.id))).all()]
        derivatives: dict[str, set[str]] = defaultdict(set)
        for d in (await s.scalars(select(Derivative))).all():
            derivatives[d.blob_sha256].add(d.kind)
        timelines: dict[int, list[CaseEvent]] = defaultdict(list)
        for ev in (await s.scalars(select(CaseEvent).order_by(CaseEvent.at, CaseEvent.id))).all():
            timelines[ev.case_id].append(ev)
        cases = list((await s.scalars(select(Case).order_by(Case.id))).all())
        residents = set((await s.scalars(select(UserRole.user_id).where(UserRole.role == "resident"))).all())
    return Seeded(evidence, dict(derivatives), dict(timelines), cases, residents)


async def test_reporters_photograph_the_problem_and_officers_the_result(rt: Runtime) -> None:
    await seed_small(rt)
    w = await load(rt)

    roles = [e.role for e, _, _ in w.evidence]
    assert any(r in REPORTER_ROLES for r in roles) and "after" in roles, roles
    for ev, blob, case in w.evidence:
        where = f"evidence {ev.id} ({ev.role}) of case {case.case_no}"
        assert ev.flags == [], where
        assert w.derivatives.get(blob.sha256) == {"thumb", "preview"}, where
        assert (blob.kind, blob.mime, (blob.width, blob.height)) == ("image", "image/jpeg", PHOTO_SIZE), where
        # Camera and phone were at the case's place, at the moment of attaching (EXIF keeps whole seconds).
        assert (blob.captured_lat, blob.captured_lon) == (case.lat, case.lon), where
        assert (ev.device_lat, ev.device_lon) == (case.lat, case.lon), where
        assert blob.captured_at == ev.device_time == ev.attached_at.replace(microsecond=0), where
        assert ev.uploaded_by == ev.attached_by, where

        timeline = w.timelines[case.id]
        at = next(i for i, e in enumerate(timeline) if e.id == ev.case_event_id)
        attached, previous = timeline[at], timeline[at - 1]
        assert (attached.action, attached.attachments, attached.at) == ("attach_evidence", [str(ev.id)],
                                                                        ev.attached_at), where
        if ev.role in REPORTER_ROLES:
            expected = "resident_photo" if case.reporter_id in w.residents else "before"
            assert ev.role == expected, where
            assert ev.attached_by == case.reporter_id, where
            assert previous.action == "report", where
            assert case.created_at < ev.attached_at < case.created_at + timedelta(minutes=2), where
            assert attached.from_status == attached.to_status == "reported", where
        else:
            assert ev.role == "after", where
            assert ev.attached_by == case.officer_id, where
            assert (previous.action, previous.at) == ("handle", ev.attached_at), where
            assert attached.from_status == attached.to_status == "handled", where

    # A photographed case is photographed throughout: one after-photo per handling, and none without a
    # reporter's photo; cases reported without photos have none at all.
    by_case: dict[int, list[str]] = defaultdict(list)
    for ev, _, case in w.evidence:
        by_case[case.id].append(ev.role)
    handled_photographed = 0
    for case in w.cases:
        handlings = sum(e.action == "handle" for e in w.timelines[case.id])
        got = by_case.get(case.id, [])
        photographed = any(r in REPORTER_ROLES for r in got)
        assert sum(r in REPORTER_ROLES for r in got) == (1 if photographed else 0), case.case_no
        assert got.count("after") == (handlings if photographed else 0), case.case_no
        handled_photographed += photographed and handlings > 0
    assert handled_photographed > 0
    assert len(by_case) < len(w.cases), "some cases are reported without photos"


async def test_seeded_photos_are_served_through_the_evidence_api(rt: Runtime, client: httpx.AsyncClient) -> None:
    await seed_small(rt)
    w = await load(rt)
    ev, blob, case = next((e, b, c) for e, b, c in w.evidence if e.role == "after")
    login = await client.post("/api/v1/auth/login", json={"username": "commander", "password": DEMO_PASSWORD})
    assert login.status_code == 200, login.text
    staff = {"Authorization": f"Bearer {login.json()['access_token']}"}

    page = await client.get(f"/api/v1/cases/{case.id}/evidence", headers=staff)
    assert page.status_code == 200, page.text
    item = next(i for i in page.json()["items"] if i["id"] == ev.id)
    assert (item["role"], item["sha256"], item["flags"]) == ("after", blob.sha256, [])
    assert (item["captured_lat"], item["captured_lon"]) == (case.lat, case.lon)
    urls = {d["kind"]: d["url"] for d in item["derivatives"]}
    assert set(urls) == {"thumb", "preview"}

    thumb = await client.get(urls["thumb"], headers=staff)
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as im:
        assert im.format == "JPEG" and max(im.size) == 320
    original = await client.get(item["url"], headers=staff)
    assert original.status_code == 200 and original.content[:2] == b"\xff\xd8"
    assert len(original.content) == blob.size
    # Not published to the public map: without signing in there is nothing to see.
    assert (await client.get(urls["thumb"])).status_code == 404


async def test_evidence_verify_finds_every_seeded_file_intact(rt: Runtime) -> None:
    await seed_small(rt)
    w = await load(rt)
    blobs = {b.sha256 for _, b, _ in w.evidence}

    async with rt.sessionmaker() as s:
        report = await maintenance.verify(rt, s, now=rt.clock())
        stored_bytes = (await s.scalar(select(func.sum(Blob.size))) or 0) + (
            await s.scalar(select(func.sum(Derivative.size))) or 0)

    assert report.ok, report.problems
    assert report.checked == 3 * len(blobs)  # each original with its thumbnail and preview
    assert report.bytes == stored_bytes
    assert report.unreferenced == []
    assert list((rt.settings.media_dir / "uploads").iterdir()) == []  # no upload left half-way


async def test_audit_chain_verifies_and_records_every_upload_and_attach(rt: Runtime) -> None:
    await seed_small(rt)
    w = await load(rt)

    async with rt.sessionmaker() as s:
        result = await audit_service.verify(s)
        actions = dict((await s.execute(select(AuditEntry.action, func.count()).where(AuditEntry.action.in_(
            ("upload.created", "upload.completed", "upload.refused", "evidence.attached")))
            .group_by(AuditEntry.action))).all())

    assert result.ok, result.broken
    n = len(w.evidence)
    assert actions == {"upload.created": n, "upload.completed": n, "evidence.attached": n}
