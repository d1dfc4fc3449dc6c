"""Every row of the TRANSITIONS table against every role, without a database: the right role (in scope) moves the
case to the state the standard prescribes, any other role is refused (403), the right role outside its scope is
refused (403), and every state the row does not start from is refused (409)."""

from __future__ import annotations

from typing import Any

import pytest

from cityops.auth.roles import Role
from cityops.case import workflow as wf
from cityops.case.workflow import (
    Actor,
    BadParameter,
    CaseSnapshot,
    IllegalTransition,
    NotPermitted,
    Outcome,
    RequestKind,
    Rule,
    Scope,
    Status,
)

S = Status
ME = 101  # the acting user
OTHER = 202  # somebody else (another officer, another reporter)
DEPT = 7  # the case's department
OTHER_DEPT = 8

# Where each action leads, written out from the standard (not read from the table under test). None: stays.
EXPECTED_TO: dict[str, Status | None] = {
    "send_verify": S.VERIFYING, "verify": S.VERIFIED, "file": S.FILED, "void": S.VOIDED, "dispatch": S.DISPATCHED,
    "assign": S.DISPATCHED, "accept": S.ACCEPTED, "depart": S.EN_ROUTE, "arrive": S.ON_SCENE, "handle": S.HANDLED,
    "feed_back": S.FED_BACK, "check": S.CHECKED, "close": S.CLOSED, "rework": S.DISPATCHED, "evaluate": S.EVALUATED,
    "request": None, "approve": None, "reject": None, "resume": S.ON_SCENE, "escalate": None,
}

# In which states each kind of request may be made (回退 only before work starts; 挂账 also while filed; 作废 up to
# feedback), written out by hand.
HANDLING = (S.DISPATCHED, S.ACCEPTED, S.EN_ROUTE, S.ON_SCENE, S.HANDLED)
REQUESTABLE: dict[RequestKind, tuple[Status, ...]] = {
    RequestKind.RETURN: (S.DISPATCHED, S.ACCEPTED),
    RequestKind.EXTEND: HANDLING,
    RequestKind.SUSPEND: (S.FILED, *HANDLING),
    RequestKind.VOID: (*HANDLING, S.FED_BACK),
}
# Who may ask for what.
REQUESTERS: dict[RequestKind, set[Role]] = {
    RequestKind.RETURN: {Role.DEPARTMENT, Role.OFFICER},
    RequestKind.EXTEND: {Role.DEPARTMENT, Role.OFFICER},
    RequestKind.SUSPEND: {Role.DEPARTMENT, Role.DISPATCHER},
    RequestKind.VOID: {Role.DEPARTMENT, Role.DISPATCHER},
}


def actor(role: Role, *, department_id: int | None = DEPT, user_id: int = ME) -> Actor:
    # A device acts for its officer (the principal of a device token carries the officer's user id).
    return Actor(user_id, frozenset({role.value}), department_id, user_id if role is Role.DEVICE else None)


def related(status: Status, **kw: Any) -> CaseSnapshot:
    """A case the actor is fully related to: its department, assigned to them, reported by them."""
    base: dict[str, Any] = dict(status=status, department_id=DEPT, officer_id=ME, reporter_id=ME,
                                status_before_suspend=S.ON_SCENE if status is S.SUSPENDED else None,
                                check_passed=True if status is S.CHECKED else None)
    base.update(kw)
    return CaseSnapshot(**base)


def request_kind_for(role: Role, status: Status) -> RequestKind | None:
    for kind in RequestKind:
        if role in REQUESTERS[kind] and status in REQUESTABLE[kind]:
            return kind
    return None


def params_for(action: str, role: Role = Role.OFFICER, status: Status = S.DISPATCHED) -> dict[str, Any]:
    """Everything the action needs to go through."""
    if action == "request":
        kind = request_kind_for(role, status) or RequestKind.VOID
        return {"kind": kind.value, "reason": "不属本部门职责", "extra_value": 2}
    return {
        "dispatch": {"department_id": DEPT},
        "assign": {"officer_id": ME},
        "verify": {"confirmed": True},
        "handle": {"measure": "warning"},
        "check": {"passed": True},
        "evaluate": {"satisfaction": "satisfied"},
    }.get(action, {})


def snapshot_for(rule: Rule, status: Status) -> CaseSnapshot:
    # approve/reject decide a pending request; an extension keeps the state, so the table row is about rights.
    pending = RequestKind.EXTEND if rule.action in ("approve", "reject") else None
    return related(status, pending_request=pending)


def granted(rule: Rule) -> set[Role]:
    return {r for r, _ in rule.grants}


ROWS = [pytest.param(rule, id=rule.action) for rule in wf.TRANSITIONS]


def test_the_table_covers_every_action_and_only_known_states() -> None:
    assert [r.action for r in wf.TRANSITIONS] == list(EXPECTED_TO)
    # request's states are the union of the per-kind states above
    union = {s for states in REQUESTABLE.values() for s in states}
    assert set(wf.RULES["request"].from_states) == union
    # approve/reject apply to every open case; escalate to every open case that is not suspended
    terminal = {S.CLOSED, S.EVALUATED, S.VOIDED}
    assert set(wf.RULES["approve"].from_states) == set(S) - terminal
    assert set(wf.RULES["escalate"].from_states) == set(S) - terminal - {S.SUSPENDED}
    assert {k: set(v) for k, v in wf.REQUEST_GRANTS.items()} == REQUESTERS


@pytest.mark.parametrize("rule", ROWS)
@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_granted_role_moves_the_case_and_others_are_refused(rule: Rule, role: Role) -> None:
    for status in rule.from_states:
        case = snapshot_for(rule, status)
        params = params_for(rule.action, role, status)
        if role not in granted(rule):
            with pytest.raises(NotPermitted):
                wf.transition(case, rule.action, actor(role), params)
            continue
        if rule.action == "request" and request_kind_for(role, status) is None:
            # e.g. an officer cannot ask for anything while a case is merely filed: no kind fits both.
            with pytest.raises((IllegalTransition, NotPermitted)):
                wf.transition(case, rule.action, actor(role), params)
            continue
        out = wf.transition(case, rule.action, actor(role), params)
        assert isinstance(out, Outcome)
        assert out.action == rule.action and out.from_status is status and out.as_role is role
        expected = EXPECTED_TO[rule.action] or status
        assert out.to_status is expected, (rule.action, status, role)


@pytest.mark.parametrize("rule", ROWS)
def test_every_other_state_is_illegal_for_an_authorised_actor(rule: Rule) -> None:
    others = [s for s in S if s not in rule.from_states]
    for role in granted(rule):
        for status in others:
            case = snapshot_for(rule, status)
            with pytest.raises(IllegalTransition):
                wf.transition(case, rule.action, actor(role), params_for(rule.action, role, status))


def _out_of_scope(scope: Scope, role: Role, status: Status, rule: Rule) -> list[tuple[Actor, CaseSnapshot]]:
    snap = snapshot_for(rule, status)
    if scope is Scope.ASSIGNED_OFFICER:
        # Same department, but the case is assigned to another officer.
        return [(actor(role), _replace(snap, officer_id=OTHER))]
    if scope is Scope.OWN_DEPARTMENT:
        return [(actor(role, department_id=OTHER_DEPT), snap), (actor(role, department_id=None), snap)]
    assert scope is Scope.REPORTER
    return [(actor(role), _replace(snap, reporter_id=OTHER)), (actor(role), _replace(snap, reporter_id=None))]


def _replace(snap: CaseSnapshot, **kw: Any) -> CaseSnapshot:
    from dataclasses import replace

    return replace(snap, **kw)


SCOPED = [pytest.param(rule, role, scope, id=f"{rule.action}-{role.value}")
          for rule in wf.TRANSITIONS for role, scope in rule.grants if scope is not Scope.ANY]


@pytest.mark.parametrize(("rule", "role", "scope"), SCOPED)
def test_scope_violations_are_not_permitted(rule: Rule, role: Role, scope: Scope) -> None:
    for status in rule.from_states:
        for who, case in _out_of_scope(scope, role, status, rule):
            with pytest.raises(NotPermitted):
                wf.transition(case, rule.action, who, params_for(rule.action, role, status))


def test_unassigned_task_accepted_only_by_an_officer_of_its_department() -> None:
    case = related(S.DISPATCHED, officer_id=None)
    out = wf.transition(case, "accept", actor(Role.OFFICER), {})
    assert out.to_status is S.ACCEPTED and out.effects == {"officer_id": ME}  # the taker becomes the officer
    with pytest.raises(NotPermitted):
        wf.transition(case, "accept", actor(Role.OFFICER, department_id=OTHER_DEPT), {})
    # Only accepting is open to the whole department; without an officer nobody can report arrival for it.
    with pytest.raises(NotPermitted):
        wf.transition(related(S.ACCEPTED, officer_id=None), "arrive", actor(Role.OFFICER), {})


def test_device_acts_for_its_own_officer_only() -> None:
    mine = Actor(ME, frozenset({Role.DEVICE.value}), DEPT, acting_for_user_id=ME)
    assert wf.transition(related(S.EN_ROUTE), "arrive", mine, {}).to_status is S.ON_SCENE
    with pytest.raises(NotPermitted):
        wf.transition(related(S.EN_ROUTE, officer_id=OTHER), "arrive", mine, {})
    with pytest.raises(NotPermitted):  # a device cannot do anything else for its officer
        wf.transition(related(S.ON_SCENE), "handle", mine, {"measure": "warning"})


MISSING = [
    ("dispatch", Role.DISPATCHER, S.FILED, {}, "department_id"),
    ("assign", Role.DISPATCHER, S.DISPATCHED, {}, "officer_id"),
    ("verify", Role.INSPECTOR, S.VERIFYING, {}, "confirmed"),
    ("verify", Role.INSPECTOR, S.VERIFYING, {"confirmed": "yes"}, "confirmed"),
    ("handle", Role.OFFICER, S.ON_SCENE, {}, "handling.measure"),
    ("check", Role.INSPECTOR, S.FED_BACK, {}, "passed"),
    ("evaluate", Role.RESIDENT, S.CLOSED, {}, "satisfaction"),
    ("evaluate", Role.RESIDENT, S.CLOSED, {"satisfaction": "so-so"}, "satisfaction"),
    ("request", Role.OFFICER, S.DISPATCHED, {"reason": "x"}, "kind"),
    ("request", Role.OFFICER, S.DISPATCHED, {"kind": "return"}, "reason"),
    ("request", Role.OFFICER, S.DISPATCHED, {"kind": "return", "reason": "   "}, "reason"),
    ("request", Role.OFFICER, S.DISPATCHED, {"kind": "extend", "reason": "雨天"}, "extra_value"),
]


@pytest.mark.parametrize(("action", "role", "status", "params", "field"), MISSING,
                         ids=[f"{m[0]}-{m[4]}" for m in MISSING])
def test_missing_parameters_are_bad_parameters_naming_the_field(
    action: str, role: Role, status: Status, params: dict[str, Any], field: str
) -> None:
    with pytest.raises(BadParameter) as e:
        wf.transition(related(status), action, actor(role), params)
    assert e.value.field == field


def test_unknown_action_is_a_bad_parameter() -> None:
    with pytest.raises(BadParameter) as e:
        wf.transition(related(S.FILED), "fly", actor(Role.COMMANDER), {})
    assert e.value.field == "action"


def test_close_needs_a_passed_check() -> None:
    lead = actor(Role.SHIFT_LEAD)
    assert wf.transition(related(S.CHECKED, check_passed=True), "close", lead).to_status is S.CLOSED
    for failed in (False, None):
        with pytest.raises(IllegalTransition):
            wf.transition(related(S.CHECKED, check_passed=failed), "close", lead)
    # after a failed check the way on is 返工, back to the same department, check result cleared
    out = wf.transition(related(S.CHECKED, check_passed=False), "rework", lead)
    assert out.to_status is S.DISPATCHED and out.effects == {"rework": True, "check_passed": None}


# --- pending requests -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", ROWS)
def test_a_pending_request_blocks_every_move_but_approve_reject_escalate(rule: Rule) -> None:
    for role in granted(rule):
        for status in rule.from_states:
            case = related(status, pending_request=RequestKind.EXTEND)
            params = params_for(rule.action, role, status)
            if rule.action in ("approve", "reject", "escalate"):
                assert wf.transition(case, rule.action, actor(role), params).from_status is status
            else:
                with pytest.raises(IllegalTransition):
                    wf.transition(case, rule.action, actor(role), params)


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_approve_and_reject_need_a_pending_request(action: str) -> None:
    with pytest.raises(IllegalTransition):
        wf.transition(related(S.ON_SCENE), action, actor(Role.SHIFT_LEAD))


REQUEST_CASES = [pytest.param(kind, role, id=f"{kind.value}-{role.value}")
                 for kind in RequestKind for role in (Role.DEPARTMENT, Role.OFFICER, Role.DISPATCHER)]


@pytest.mark.parametrize(("kind", "role"), REQUEST_CASES)
def test_request_kinds_per_role_and_state(kind: RequestKind, role: Role) -> None:
    params = {"kind": kind.value, "reason": "理由", "extra_value": 2}
    for status in wf.RULES["request"].from_states:
        case = related(status)
        if status not in REQUESTABLE[kind]:
            with pytest.raises(IllegalTransition):
                wf.transition(case, "request", actor(role), params)
        elif role not in REQUESTERS[kind]:
            with pytest.raises(NotPermitted):
                wf.transition(case, "request", actor(role), params)
        else:
            out = wf.transition(case, "request", actor(role), params)
            assert out.to_status is status and out.effects == {"request": kind}


# (pending kind, state when approved, state after, effects beyond decision/request)
APPROVALS = [
    (RequestKind.RETURN, S.ACCEPTED, S.FILED, {"department_id": None, "officer_id": None}),
    (RequestKind.SUSPEND, S.EN_ROUTE, S.SUSPENDED, {"status_before_suspend": S.EN_ROUTE}),
    (RequestKind.SUSPEND, S.FILED, S.SUSPENDED, {"status_before_suspend": S.FILED}),
    (RequestKind.VOID, S.FED_BACK, S.VOIDED, {}),
    (RequestKind.EXTEND, S.ON_SCENE, S.ON_SCENE, {}),
]


@pytest.mark.parametrize(("kind", "before", "after", "extra"), APPROVALS,
                         ids=[f"{a[0].value}-{a[1].value}" for a in APPROVALS])
@pytest.mark.parametrize("approver", [Role.SHIFT_LEAD, Role.COMMANDER], ids=["shift_lead", "commander"])
def test_approve_effects_per_kind(kind: RequestKind, before: Status, after: Status, extra: dict[str, Any],
                                  approver: Role) -> None:
    case = related(before, pending_request=kind)
    out = wf.transition(case, "approve", actor(approver))
    assert out.to_status is after
    assert dict(out.effects) == {"decision": "approved", "request": kind, **extra}
    rejected = wf.transition(case, "reject", actor(approver))
    assert rejected.to_status is before  # a rejection changes nothing but the request
    assert dict(rejected.effects) == {"decision": "rejected", "request": kind}


@pytest.mark.parametrize("was", [S.FILED, S.DISPATCHED, S.ACCEPTED, S.EN_ROUTE, S.ON_SCENE, S.HANDLED])
def test_resume_returns_to_the_state_before_suspension(was: Status) -> None:
    for role in (Role.SHIFT_LEAD, Role.COMMANDER, Role.DISPATCHER):
        out = wf.transition(related(S.SUSPENDED, status_before_suspend=was), "resume", actor(role))
        assert out.to_status is was and out.effects == {"status_before_suspend": None}


def test_suspended_case_cannot_be_escalated_or_moved_on() -> None:
    case = related(S.SUSPENDED, status_before_suspend=S.ON_SCENE)
    with pytest.raises(IllegalTransition):
        wf.transition(case, "escalate", actor(Role.COMMANDER))
    with pytest.raises(IllegalTransition):
        wf.transition(case, "handle", actor(Role.OFFICER), {"measure": "warning"})


def test_available_offers_only_moves_that_can_succeed() -> None:
    """The UI's buttons: a failed check offers rework, not close; nothing to decide offers no approve/reject;
    an officer on a fed-back case has no request kind left to ask for."""
    lead = wf.Actor(1, frozenset({"shift_lead"}))
    failed = wf.CaseSnapshot(status=wf.Status.CHECKED, department_id=3, officer_id=9, check_passed=False)
    passed = wf.CaseSnapshot(status=wf.Status.CHECKED, department_id=3, officer_id=9, check_passed=True)
    assert wf.available(failed, lead) == ["rework", "escalate"]
    assert wf.available(passed, lead) == ["close", "rework", "escalate"]
    officer = wf.Actor(9, frozenset({"officer"}), department_id=3)
    fed_back = wf.CaseSnapshot(status=wf.Status.FED_BACK, department_id=3, officer_id=9)
    assert wf.available(fed_back, officer) == []
    on_scene = wf.CaseSnapshot(status=wf.Status.ON_SCENE, department_id=3, officer_id=9)
    assert wf.available(on_scene, officer) == ["handle", "request"]
    pending = wf.CaseSnapshot(status=wf.Status.ON_SCENE, department_id=3, officer_id=9,
                              pending_request=wf.RequestKind.EXTEND)
    assert wf.available(pending, officer) == []
    assert wf.available(pending, lead) == ["approve", "reject", "escalate"]
