"""The bulk history generator writes what the case service would: every timeline step is a legal move of the
workflow by a role allowed to make it, the case row agrees with its timeline, case numbers follow the day
counters, and the audit chain (extended in bulk) still verifies."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from cityops.audit import service as audit_service
from cityops.audit.models import AuditEntry
from cityops.case import workflow as wf
from cityops.case.models import Case, CaseCounter, CaseEvent, CaseRequest, HandlingRecord
from cityops.demo.history import generate
from cityops.evaluation.models import SurveyResponse
from cityops.media.models import Evidence
from cityops.runtime import Runtime
from evaluation.ev_support import T
from support import World

SIDE = {"request", "approve", "reject", "resume", "escalate"}


async def test_generated_history_is_consistent(rt: Runtime, world: World) -> None:
    async with rt.sessionmaker() as s:
        audit_before = await s.scalar(select(func.count()).select_from(AuditEntry)) or 0
    h = await generate(rt, months=1, end=T(11, 1), per_month=80, seed=9)
    async with rt.sessionmaker() as s:
        cases = {c.id: c for c in (await s.execute(select(Case))).scalars()}
        events: dict[int, list[CaseEvent]] = defaultdict(list)
        for e in (await s.execute(select(CaseEvent).order_by(CaseEvent.id))).scalars():
            events[e.case_id].append(e)
        requests = {r.id: r for r in (await s.execute(select(CaseRequest))).scalars()}
        evidence = {e.id: e for e in (await s.execute(select(Evidence))).scalars()}
        handled = defaultdict(int)
        for cid in (await s.execute(select(HandlingRecord.case_id))).scalars():
            handled[cid] += 1
        counters = dict((await s.execute(select(CaseCounter.day, CaseCounter.last))).all())
        surveys = await s.scalar(select(func.count()).select_from(SurveyResponse)) or 0
        audit_after = await s.scalar(select(func.count()).select_from(AuditEntry)) or 0
        verified = await audit_service.verify(s)
    assert len(cases) == h.cases > 80
    assert verified.ok and audit_after - audit_before == h.audit_entries == h.events + surveys
    assert len(evidence) > 50
    for cid, case in cases.items():
        # Evidence attachments are timeline entries of the media service, not moves of the workflow.
        photos = [e for e in events[cid] if e.action == "attach_evidence"]
        tl = [e for e in events[cid] if e.action != "attach_evidence"]
        assert tl[0].action == "report" and tl[0].to_status == "reported"
        for prev, e in zip(tl, tl[1:], strict=False):
            rule = wf.RULES[e.action]
            assert e.from_status == prev.to_status, (case.case_no, e.action)
            assert wf.Status(e.from_status) in rule.from_states, (case.case_no, e.action, e.from_status)
            if e.action not in SIDE:
                assert e.to_status == rule.to_state, (case.case_no, e.action)
            assert e.actor_role in {r.value for r, _ in rule.grants}, (case.case_no, e.action, e.actor_role)
            assert e.at >= prev.at
            if "request_id" in e.data:
                assert requests[e.data["request_id"]].case_id == cid
        assert case.status == tl[-1].to_status
        assert case.version == len(tl)
        # An after-photo is evidence of this case, and what the handling and feedback entries name.
        for p in photos:
            ev = evidence[int(p.data["evidence_id"])]
            assert ev.case_id == cid and ev.role == "after" and ev.case_event_id == p.id
            assert p.attachments == [str(ev.id)]
        named = {a for e in tl if e.action in ("handle", "feed_back") for a in e.attachments}
        assert named <= {p.attachments[0] for p in photos}
        assert handled[cid] == sum(e.action == "handle" for e in tl)
        last = {e.action: e.at for e in tl}
        for action, col in (("file", case.filed_at), ("dispatch", case.dispatched_at), ("close", case.closed_at)):
            assert last.get(action) == col, (case.case_no, action)
        if case.status in ("closed", "evaluated"):
            assert case.handled_at == last["handle"] and case.arrived_at == last["arrive"]
        day, seq = case.case_no[:8], int(case.case_no[8:])
        assert 1 <= seq <= counters[case.created_at.astimezone(T(1, 1).tzinfo).date()]
        assert day == f"{case.created_at.astimezone(T(1, 1).tzinfo):%Y%m%d}"
    assert len({c.case_no for c in cases.values()}) == len(cases)


async def test_history_adds_to_an_existing_chain(rt: Runtime, world: World) -> None:
    await generate(rt, months=1, end=T(10, 1), per_month=20, seed=1)
    await generate(rt, months=1, end=T(11, 1), per_month=20, seed=2)
    async with rt.sessionmaker() as s:
        assert (await audit_service.verify(s)).ok
