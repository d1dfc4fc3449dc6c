"""The 7-step closed loop of GB/T 30428 as a pure state machine (no I/O, no clock).

信息收集 collection → 案卷建立 filing (核实 verify, 立案 file / 作废 void) → 任务派遣 dispatch →
任务处理 handling (accept, depart, arrive, handle) → 处理反馈 feedback → 核查结案 check and close (or 返工 rework)
→ 综合评价 evaluation. Side actions: 回退 return, 延期 extension, 挂账 suspension (with approval), resume, 作废 void,
督办 escalation.

``TRANSITIONS`` is the single source of truth: the service applies it, the docs table is generated from it, and
tests walk every row with the right and the wrong role.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from cityops.auth.roles import Role


class Status(StrEnum):
    REPORTED = "reported"  # 信息收集: reported, awaiting intake
    VERIFYING = "verifying"  # 核实中: an inspector is sent to verify
    VERIFIED = "verified"  # 已核实: awaiting 立案
    FILED = "filed"  # 已立案: awaiting dispatch
    DISPATCHED = "dispatched"  # 已派遣: with a department (and maybe an officer)
    ACCEPTED = "accepted"  # 已接单
    EN_ROUTE = "en_route"  # 出发
    ON_SCENE = "on_scene"  # 到场
    HANDLED = "handled"  # 已处置
    FED_BACK = "fed_back"  # 已反馈: awaiting 核查
    CHECKED = "checked"  # 已核查: awaiting 结案 or 返工
    CLOSED = "closed"  # 已结案
    EVALUATED = "evaluated"  # 已评价
    SUSPENDED = "suspended"  # 挂账: clock paused
    VOIDED = "voided"  # 作废


TERMINAL = frozenset({Status.CLOSED, Status.EVALUATED, Status.VOIDED})
# States in which the case's handling clock runs (dispatch → feedback).
HANDLING = (Status.DISPATCHED, Status.ACCEPTED, Status.EN_ROUTE, Status.ON_SCENE, Status.HANDLED)
OPEN = tuple(s for s in Status if s not in TERMINAL)


class Scope(StrEnum):
    ANY = "any"  # any holder of the role
    OWN_DEPARTMENT = "own_department"  # actor belongs to the case's department
    ASSIGNED_OFFICER = "assigned_officer"  # the assigned officer (or, if none, an officer of the department)
    REPORTER = "reporter"  # the resident who reported the case


class RequestKind(StrEnum):
    RETURN = "return"  # 回退: the department is not responsible
    EXTEND = "extend"  # 延期
    SUSPEND = "suspend"  # 挂账
    VOID = "void"  # 作废 after dispatch


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意


@dataclass(frozen=True)
class Rule:
    action: str
    step: str  # which of the seven steps it belongs to
    from_states: tuple[Status, ...]
    to_state: Status | None  # None: stays (or decided by the request being approved)
    grants: tuple[tuple[Role, Scope], ...]
    summary: str


def _g(*pairs: tuple[Role, Scope]) -> tuple[tuple[Role, Scope], ...]:
    return pairs


A = Scope.ANY
R = Role
S = Status
_REQUESTABLE = {
    RequestKind.RETURN: (S.DISPATCHED, S.ACCEPTED),
    RequestKind.EXTEND: HANDLING,
    RequestKind.SUSPEND: (S.FILED, *HANDLING),
    RequestKind.VOID: (S.DISPATCHED, S.ACCEPTED, S.EN_ROUTE, S.ON_SCENE, S.HANDLED, S.FED_BACK),
}

TRANSITIONS: tuple[Rule, ...] = (
    Rule("send_verify", "案卷建立", (S.REPORTED,), S.VERIFYING,
         _g((R.INTAKE, A), (R.SHIFT_LEAD, A)), "受理 register and send an inspector to verify (核实)"),
    Rule("verify", "案卷建立", (S.VERIFYING,), S.VERIFIED,
         _g((R.INSPECTOR, A)), "核实 verify on site (confirmed or not)"),
    Rule("file", "案卷建立", (S.REPORTED, S.VERIFIED), S.FILED,
         _g((R.SHIFT_LEAD, A)), "立案 file with category and filing condition; starts the dispatch queue"),
    Rule("void", "案卷建立", (S.REPORTED, S.VERIFYING, S.VERIFIED, S.FILED), S.VOIDED,
         _g((R.SHIFT_LEAD, A), (R.COMMANDER, A)), "作废 void before dispatch"),
    Rule("dispatch", "任务派遣", (S.FILED,), S.DISPATCHED,
         _g((R.DISPATCHER, A), (R.SHIFT_LEAD, A)), "派遣 to a department, optionally a named officer; clock starts"),
    Rule("assign", "任务派遣", (S.DISPATCHED,), S.DISPATCHED,
         _g((R.DEPARTMENT, Scope.OWN_DEPARTMENT), (R.DISPATCHER, A)), "assign or reassign the officer"),
    Rule("accept", "任务处理", (S.DISPATCHED,), S.ACCEPTED,
         _g((R.OFFICER, Scope.ASSIGNED_OFFICER)), "接单 accept the task"),
    Rule("depart", "任务处理", (S.ACCEPTED,), S.EN_ROUTE,
         _g((R.OFFICER, Scope.ASSIGNED_OFFICER)), "出发 set off"),
    Rule("arrive", "任务处理", (S.ACCEPTED, S.EN_ROUTE), S.ON_SCENE,
         _g((R.OFFICER, Scope.ASSIGNED_OFFICER), (R.DEVICE, Scope.ASSIGNED_OFFICER)),
         "到场 on scene (manual, or by position)"),
    Rule("handle", "任务处理", (S.ON_SCENE,), S.HANDLED,
         _g((R.OFFICER, Scope.ASSIGNED_OFFICER)), "处置 record the measure taken"),
    Rule("feed_back", "处理反馈", (S.HANDLED,), S.FED_BACK,
         _g((R.OFFICER, Scope.ASSIGNED_OFFICER), (R.DEPARTMENT, Scope.OWN_DEPARTMENT)),
         "反馈 report the result to the centre"),
    Rule("check", "核查结案", (S.FED_BACK,), S.CHECKED,
         _g((R.INSPECTOR, A)), "核查 check on site: passed or not"),
    Rule("close", "核查结案", (S.CHECKED,), S.CLOSED,
         _g((R.SHIFT_LEAD, A)), "结案 close (only after a passed check)"),
    Rule("rework", "核查结案", (S.CHECKED,), S.DISPATCHED,
         _g((R.SHIFT_LEAD, A)), "返工 send back to the same department"),
    Rule("evaluate", "综合评价", (S.CLOSED,), S.EVALUATED,
         _g((R.RESIDENT, Scope.REPORTER), (R.COMMANDER, A), (R.SHIFT_LEAD, A)),
         "评价 satisfaction: satisfied / basically satisfied / dissatisfied"),
    Rule("request", "side", tuple(dict.fromkeys(s for v in _REQUESTABLE.values() for s in v)), None,
         _g((R.DEPARTMENT, Scope.OWN_DEPARTMENT), (R.OFFICER, Scope.ASSIGNED_OFFICER), (R.DISPATCHER, A)),
         "ask for 回退 return / 延期 extension / 挂账 suspension / 作废 void"),
    Rule("approve", "side", OPEN, None,
         _g((R.SHIFT_LEAD, A), (R.COMMANDER, A)), "approve the pending request"),
    Rule("reject", "side", OPEN, None,
         _g((R.SHIFT_LEAD, A), (R.COMMANDER, A)), "reject the pending request"),
    Rule("resume", "side", (S.SUSPENDED,), None,
         _g((R.SHIFT_LEAD, A), (R.COMMANDER, A), (R.DISPATCHER, A)), "挂账恢复 resume; the clock runs again"),
    Rule("escalate", "side", tuple(s for s in OPEN if s is not S.SUSPENDED), None,
         _g((R.COMMANDER, A), (R.SHIFT_LEAD, A)), "督办 escalate (also done by the deadline sweeper)"),
)
RULES: dict[str, Rule] = {r.action: r for r in TRANSITIONS}
ACTIONS = tuple(RULES)

# Which requester roles may ask for what (the rule above admits the union).
REQUEST_GRANTS: dict[RequestKind, frozenset[Role]] = {
    RequestKind.RETURN: frozenset({R.DEPARTMENT, R.OFFICER}),
    RequestKind.EXTEND: frozenset({R.DEPARTMENT, R.OFFICER}),
    RequestKind.SUSPEND: frozenset({R.DEPARTMENT, R.DISPATCHER}),
    RequestKind.VOID: frozenset({R.DEPARTMENT, R.DISPATCHER}),
}


class WorkflowError(Exception):
    """Base of the two refusals; ``field`` names the parameter at fault when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class IllegalTransition(WorkflowError):
    """The action does not apply to the case as it is now (HTTP 409)."""


class NotPermitted(WorkflowError):
    """The actor's role or relation to the case does not allow the action (HTTP 403)."""


class BadParameter(WorkflowError):
    """A parameter the action needs is missing or wrong (HTTP 422)."""


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    roles: frozenset[str]
    department_id: int | None = None
    # For a device, the officer it belongs to; scopes are checked against that officer.
    acting_for_user_id: int | None = None


@dataclass(frozen=True)
class CaseSnapshot:
    status: Status
    department_id: int | None = None
    officer_id: int | None = None
    reporter_id: int | None = None
    pending_request: RequestKind | None = None
    status_before_suspend: Status | None = None
    check_passed: bool | None = None


@dataclass(frozen=True)
class Outcome:
    action: str
    from_status: Status
    to_status: Status
    as_role: Role
    effects: Mapping[str, Any] = field(default_factory=dict)


def _in_scope(scope: Scope, actor: Actor, case: CaseSnapshot, action: str) -> bool:
    who = actor.acting_for_user_id or actor.user_id
    if scope is Scope.ANY:
        return True
    if scope is Scope.OWN_DEPARTMENT:
        return actor.department_id is not None and actor.department_id == case.department_id
    if scope is Scope.REPORTER:
        return who is not None and who == case.reporter_id
    # ASSIGNED_OFFICER: a task sent to a department without a named officer may be taken by any of its officers.
    if case.officer_id is None:
        return action == "accept" and actor.department_id is not None and actor.department_id == case.department_id
    return who == case.officer_id


def authorize(rule: Rule, actor: Actor, case: CaseSnapshot) -> Role:
    """Return the role under which ``actor`` may do ``rule``; raise NotPermitted with the reason."""
    held = [(role, scope) for role, scope in rule.grants if role in actor.roles]
    if not held:
        needed = ", ".join(sorted({r.value for r, _ in rule.grants}))
        raise NotPermitted(f"'{rule.action}' needs one of the roles: {needed}")
    for role, scope in held:
        if _in_scope(scope, actor, case, rule.action):
            return role
    scopes = {s for _, s in held}
    if Scope.ASSIGNED_OFFICER in scopes:
        raise NotPermitted(f"only the officer assigned to this case may '{rule.action}' it")
    if Scope.OWN_DEPARTMENT in scopes:
        raise NotPermitted(f"only staff of the case's department may '{rule.action}' it")
    raise NotPermitted(f"only the resident who reported this case may '{rule.action}' it")


def transition(case: CaseSnapshot, action: str, actor: Actor, params: Mapping[str, Any] | None = None) -> Outcome:
    """Decide one move of the loop. Raises NotPermitted (403), IllegalTransition (409) or BadParameter (422)."""
    params = params or {}
    rule = RULES.get(action)
    if rule is None:
        raise BadParameter(f"unknown action {action!r}; actions are: {', '.join(ACTIONS)}", "action")
    as_role = authorize(rule, actor, case)
    if case.status not in rule.from_states:
        allowed = ", ".join(s.value for s in rule.from_states)
        raise IllegalTransition(
            f"cannot '{action}' a case that is {case.status.value}; '{action}' applies to: {allowed}"
        )
    if case.pending_request is not None and action not in ("approve", "reject", "escalate", "request"):
        # A decision is pending; moving the case under it would make the decision meaningless.
        raise IllegalTransition(
            f"a '{case.pending_request.value}' request is waiting for approval; approve or reject it first"
        )
    return _DECIDE.get(action, _plain)(rule, case, actor, as_role, params)


def available(case: CaseSnapshot, actor: Actor) -> list[str]:
    """The actions ``actor`` could take on ``case`` now (parameters aside): what a UI should offer."""
    return list(_available(case, actor))


# Every case read answers this (lists of 200 cases, the console's live updates); the answer depends only on two
# small frozen values, and the same (case state, caller) pairs recur all the time.
@functools.lru_cache(maxsize=8192)
def _available(case: CaseSnapshot, actor: Actor) -> tuple[str, ...]:
    out = []
    for rule in TRANSITIONS:
        try:
            authorize(rule, actor, case)
        except NotPermitted:
            continue
        if case.status not in rule.from_states:
            continue
        if case.pending_request is not None and rule.action not in ("approve", "reject", "escalate"):
            continue
        if case.pending_request is None and rule.action in ("approve", "reject"):
            continue
        if rule.action == "close" and case.check_passed is not True:
            continue
        if rule.action == "request":
            roles = {r for r, scope in rule.grants if r in actor.roles and _in_scope(scope, actor, case, "request")}
            if not any(case.status in _REQUESTABLE[k] and roles & REQUEST_GRANTS[k] for k in RequestKind):
                continue
        out.append(rule.action)
    return tuple(out)


def _plain(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    assert rule.to_state is not None
    return Outcome(rule.action, case.status, rule.to_state, role)


def _dispatch(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    if not params.get("department_id"):
        raise BadParameter("dispatch needs department_id", "department_id")
    return Outcome(rule.action, case.status, S.DISPATCHED, role,
                   {"department_id": params["department_id"], "officer_id": params.get("officer_id")})


def _assign(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    if not params.get("officer_id"):
        raise BadParameter("assign needs officer_id", "officer_id")
    return Outcome(rule.action, case.status, S.DISPATCHED, role, {"officer_id": params["officer_id"]})


def _accept(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    effects = {} if case.officer_id is not None else {"officer_id": actor.user_id}
    return Outcome(rule.action, case.status, S.ACCEPTED, role, effects)


def _verify(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    confirmed = params.get("confirmed")
    if not isinstance(confirmed, bool):
        raise BadParameter("verify needs confirmed: true or false", "confirmed")
    return Outcome(rule.action, case.status, S.VERIFIED, role, {"confirmed": confirmed})


def _handle(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    if not params.get("measure"):
        raise BadParameter("handle needs the measure taken", "handling.measure")
    return Outcome(rule.action, case.status, S.HANDLED, role)


def _check(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    passed = params.get("passed")
    if not isinstance(passed, bool):
        raise BadParameter("check needs passed: true or false", "passed")
    return Outcome(rule.action, case.status, S.CHECKED, role, {"check_passed": passed})


def _close(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    if case.check_passed is not True:
        raise IllegalTransition("the on-site check did not pass; order 'rework' instead of closing")
    return Outcome(rule.action, case.status, S.CLOSED, role)


def _rework(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    return Outcome(rule.action, case.status, S.DISPATCHED, role, {"rework": True, "check_passed": None})


def _evaluate(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    try:
        # A missing value (None) raises ValueError like any other non-member.
        satisfaction = Satisfaction(cast(str, params.get("satisfaction")))
    except ValueError:
        choices = ", ".join(s.value for s in Satisfaction)
        raise BadParameter(f"satisfaction must be one of: {choices}", "satisfaction") from None
    return Outcome(rule.action, case.status, S.EVALUATED, role, {"satisfaction": satisfaction})


def _request(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    try:
        kind = RequestKind(cast(str, params.get("kind")))  # None raises ValueError too
    except ValueError:
        choices = ", ".join(k.value for k in RequestKind)
        raise BadParameter(f"request kind must be one of: {choices}", "kind") from None
    if case.pending_request is not None:
        raise IllegalTransition(f"a '{case.pending_request.value}' request is already waiting for approval")
    if case.status not in _REQUESTABLE[kind]:
        allowed = ", ".join(s.value for s in _REQUESTABLE[kind])
        raise IllegalTransition(f"a '{kind.value}' request applies to cases that are: {allowed}")
    if role not in REQUEST_GRANTS[kind]:
        needed = ", ".join(sorted(r.value for r in REQUEST_GRANTS[kind]))
        raise NotPermitted(f"a '{kind.value}' request needs one of the roles: {needed}")
    if not str(params.get("reason") or "").strip():
        raise BadParameter("a request needs a reason", "reason")
    if kind is RequestKind.EXTEND and not params.get("extra_value"):
        raise BadParameter("an extension request needs extra_value (and extra_unit)", "extra_value")
    return Outcome(rule.action, case.status, case.status, role, {"request": kind})


def _decide(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    kind = case.pending_request
    if kind is None:
        raise IllegalTransition(f"there is no pending request to {rule.action}")
    if rule.action == "reject":
        return Outcome(rule.action, case.status, case.status, role, {"decision": "rejected", "request": kind})
    to = {
        RequestKind.RETURN: S.FILED,
        RequestKind.EXTEND: case.status,
        RequestKind.SUSPEND: S.SUSPENDED,
        RequestKind.VOID: S.VOIDED,
    }[kind]
    effects: dict[str, Any] = {"decision": "approved", "request": kind}
    if kind is RequestKind.SUSPEND:
        effects["status_before_suspend"] = case.status
    if kind is RequestKind.RETURN:
        effects.update(department_id=None, officer_id=None)
    return Outcome(rule.action, case.status, to, role, effects)


def _resume(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    back = case.status_before_suspend or S.FILED
    return Outcome(rule.action, case.status, back, role, {"status_before_suspend": None})


def _escalate(rule: Rule, case: CaseSnapshot, actor: Actor, role: Role, params: Mapping[str, Any]) -> Outcome:
    return Outcome(rule.action, case.status, case.status, role)


_DECIDE = {
    "dispatch": _dispatch,
    "assign": _assign,
    "accept": _accept,
    "verify": _verify,
    "handle": _handle,
    "check": _check,
    "close": _close,
    "rework": _rework,
    "evaluate": _evaluate,
    "request": _request,
    "approve": _decide,
    "reject": _decide,
    "resume": _resume,
    "escalate": _escalate,
}
