"""Evaluation API: indicators, composite grades, the monthly report (JSON for the console page, XLSX and PDF
downloads), supervision flags and their reviews, and the satisfaction survey (call-backs, rating links)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.deps import DbSession, Now, allow, public
from cityops.errors import Forbidden, InvalidInput
from cityops.evaluation import schemas as sc
from cityops.evaluation import service, survey
from cityops.evaluation.formulas import INDICATORS
from cityops.evaluation.indicators import GROUPS, SCOPES, Scope
from cityops.evaluation.periods import Period, PeriodError, date_range, parse_month
from cityops.evaluation.report import monthly as report
from cityops.runtime import Runtime

router = APIRouter(prefix="/api/v1/evaluation", tags=["evaluation"])

SUPERVISORS = (Role.COMMANDER, Role.SHIFT_LEAD, Role.ADMIN)
READERS = (*SUPERVISORS, Role.DEPARTMENT)
SURVEYORS = (Role.INTAKE, Role.SHIFT_LEAD, Role.COMMANDER)
MonthQ = Annotated[str | None, Query(max_length=7, description="e.g. 2026-10")]
DateQ = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD, inclusive")]


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def period_of(rt: Runtime, month: str | None, date_from: str | None, date_to: str | None) -> Period:
    """``month``, or ``from`` and ``to`` (whole days, inclusive) in the bureau's time zone."""
    tz = ZoneInfo(rt.settings.timezone)
    try:
        if month is not None:
            if date_from or date_to:
                raise PeriodError("give either month or from/to, not both", "month")
            return parse_month(month, tz)
        if not date_from or not date_to:
            raise PeriodError("give month=YYYY-MM, or from=YYYY-MM-DD and to=YYYY-MM-DD", "month")
        try:
            first = date.fromisoformat(date_from)
        except ValueError:
            raise PeriodError(f"from must be a date YYYY-MM-DD, not {date_from!r}", "from") from None
        try:
            last = date.fromisoformat(date_to)
        except ValueError:
            raise PeriodError(f"to must be a date YYYY-MM-DD, not {date_to!r}", "to") from None
        return date_range(first, last, tz)
    except PeriodError as e:
        raise InvalidInput(e.message, field=e.field) from None


def _period_out(p: Period) -> sc.PeriodOut:
    return sc.PeriodOut(label=p.label, start=p.start, end=p.end)


def _row(r: service.Row) -> sc.IndicatorRow:
    return sc.IndicatorRow(key=r.key, label=r.label, values=r.values, counts=r.counts.as_dict())


@router.get("/indicators/definitions", response_model=list[sc.IndicatorDef], summary="Indicator names and formulas")
async def definitions(_: Annotated[Principal, allow(*READERS)]) -> list[sc.IndicatorDef]:
    return [sc.IndicatorDef(**i.__dict__) for i in INDICATORS]


@router.get("/indicators", response_model=sc.IndicatorTable,
            summary="Indicators over a period and a scope, optionally broken down by a dimension")
async def get_indicators(
    request: Request, session: DbSession, now: Now, caller: Annotated[Principal, allow(*READERS)],
    month: MonthQ = None, date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    scope: Annotated[str, Query(max_length=16)] = "district", scope_id: int | None = None,
    by: Annotated[str | None, Query(max_length=16)] = None,
) -> sc.IndicatorTable:
    rt = _rt(request)
    period = period_of(rt, month, date_from, date_to)
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be one of: {', '.join(SCOPES)}", field="scope")
    if (scope == "district") != (scope_id is None):
        raise InvalidInput("scope_id goes with every scope except district", field="scope_id")
    if by is not None and by not in GROUPS:
        raise InvalidInput(f"by must be one of: {', '.join(GROUPS)}", field="by")
    if not (caller.roles & {r.value for r in SUPERVISORS}) and (
            scope != "department" or scope_id != caller.department_id):
        # Department staff see their own department's figures only.
        raise Forbidden("department staff may read indicators of their own department only "
                        f"(scope=department&scope_id={caller.department_id})", field="scope")
    t = await service.indicator_table(rt, session, period=period, now=now, scope=Scope(scope, scope_id), by=by)
    return sc.IndicatorTable(period=_period_out(period), scope=scope, scope_id=scope_id, by=by, as_of=t.as_of,
                             total=_row(t.total), groups=[_row(g) for g in t.groups])


@router.get("/composite", response_model=sc.CompositeOut, summary="Composite scores and grades (综合评价)")
async def get_composite(request: Request, session: DbSession, now: Now,
                        _: Annotated[Principal, allow(*SUPERVISORS)],
                        subject: Annotated[str, Query(max_length=16)], month: MonthQ = None,
                        date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                        date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None) -> sc.CompositeOut:
    rt = _rt(request)
    period = period_of(rt, month, date_from, date_to)
    scores = await service.composite(rt, session, period=period, subject=subject, now=now)
    return sc.CompositeOut(period=_period_out(period), subject=subject, scores=[sc.ScoreOut(
        id=s.subject_id, name=s.label, score=s.score.score, grade=s.score.grade, cases=s.score.cases,
        parts=[sc.PartOut(**p.__dict__) for p in s.score.parts], counts=s.counts) for s in scores])


@router.get("/flags", response_model=sc.FlagList, summary="Supervision flags (全过程监督) with the cases behind each")
async def get_flags(request: Request, session: DbSession, now: Now, _: Annotated[Principal, allow(*SUPERVISORS)],
                    month: MonthQ = None, date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
                    rule: Annotated[str | None, Query(max_length=32)] = None) -> sc.FlagList:
    rt = _rt(request)
    period = period_of(rt, month, date_from, date_to)
    found = await service.flags(rt, session, period=period, now=now, rule=rule)
    return sc.FlagList(period=_period_out(period), flags=[sc.FlagOut(**report.flag_json(f)) for f in found])


@router.post("/flags/reviews", status_code=201, response_model=sc.ReviewOut, summary="Review a flag (one decision)")
async def post_review(request: Request, body: sc.FlagReviewIn, session: DbSession, now: Now,
                      caller: Annotated[Principal, allow(Role.COMMANDER, Role.SHIFT_LEAD)]) -> sc.ReviewOut:
    rt = _rt(request)
    period = period_of(rt, body.month, body.date_from, body.date_to)
    r = await service.review_flag(rt, session, period=period, rule=body.rule, subject_key=body.subject_key,
                                  decision=body.decision, note=body.note, caller=caller, now=now)
    return sc.ReviewOut(decision=r.decision, note=r.note, by_user_id=r.by_user_id, at=r.at)


async def _report(request: Request, session: DbSession, now: Now, month: str) -> report.MonthlyReport:
    rt = _rt(request)
    period_of(rt, month, None, None)  # a bad month is a 422 naming the field
    return await report.build(rt, session, month=month, now=now)


@router.get("/reports/monthly", summary="The monthly report as data (the console page renders it)")
async def monthly_json(request: Request, session: DbSession, now: Now, _: Annotated[Principal, allow(*SUPERVISORS)],
                       month: Annotated[str, Query(max_length=7)]) -> dict[str, Any]:
    return report.as_json(await _report(request, session, now, month))


@router.get("/reports/monthly.xlsx", summary="Download the monthly report (XLSX with charts)",
            response_class=Response, responses={200: {"content": {"application/vnd.openxmlformats-officedocument"
                                                                  ".spreadsheetml.sheet": {}}}})
async def monthly_xlsx(request: Request, session: DbSession, now: Now, _: Annotated[Principal, allow(*SUPERVISORS)],
                       month: Annotated[str, Query(max_length=7)]) -> Response:
    from cityops.evaluation.report.xlsx import write_xlsx

    rep = await _report(request, session, now, month)
    body = await run_in_threadpool(write_xlsx, rep)  # CPU-bound: keep the event loop serving others
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="cityops-report-{rep.month}.xlsx"'})


@router.get("/reports/monthly.pdf", summary="Download the monthly report (PDF with charts)",
            response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
async def monthly_pdf(request: Request, session: DbSession, now: Now, _: Annotated[Principal, allow(*SUPERVISORS)],
                      month: Annotated[str, Query(max_length=7)]) -> Response:
    from cityops.evaluation.report.fonts import find_font
    from cityops.evaluation.report.pdf import write_pdf

    cfg = service.config(_rt(request)).report
    find_font(cfg.font)  # 503 with what to install, before computing anything
    rep = await _report(request, session, now, month)
    body = await run_in_threadpool(lambda: write_pdf(rep, font=cfg.font, font_index=cfg.font_index))
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="cityops-report-{rep.month}.pdf"'})


def _callback_out(r: survey.CallbackRow) -> sc.CallbackOut:
    cb, c = r.callback, r.case
    return sc.CallbackOut(id=cb.id, month=cb.month, case_id=c.id, case_no=c.case_no, title=c.title,
                          address=c.address, closed_at=c.closed_at, reporter_name=c.reporter_name,
                          reporter_phone=c.reporter_phone, status=cb.status, attempts=cb.attempts,
                          called_at=cb.called_at, note=cb.note)


@router.post("/survey/callbacks/sample", response_model=sc.CallbackList,
             summary="Draw the month's call-back list of phone-reported cases (once; later calls return it)")
async def sample_callbacks(request: Request, response: Response, session: DbSession, now: Now,
                           caller: Annotated[Principal, allow(*SURVEYORS)],
                           month: Annotated[str, Query(max_length=7)]) -> sc.CallbackList:
    rt = _rt(request)
    rows, drawn = await survey.sample(rt, session, period=period_of(rt, month, None, None), caller=caller, now=now)
    response.status_code = 201 if drawn else 200
    return sc.CallbackList(month=month, drawn_now=drawn, items=[_callback_out(r) for r in rows])


@router.get("/survey/callbacks", response_model=sc.CallbackList, summary="The month's call-back list")
async def list_callbacks(request: Request, session: DbSession, _: Annotated[Principal, allow(*SURVEYORS)],
                         month: Annotated[str, Query(max_length=7)]) -> sc.CallbackList:
    rows = await survey.callbacks(session, period=period_of(_rt(request), month, None, None))
    return sc.CallbackList(month=month, items=[_callback_out(r) for r in rows])


@router.post("/survey/callbacks/{callback_id}", response_model=sc.CallbackOut, summary="Record a call-back")
async def record_callback(request: Request, callback_id: int, body: sc.CallbackIn, session: DbSession, now: Now,
                          caller: Annotated[Principal, allow(*SURVEYORS)]) -> sc.CallbackOut:
    row = await survey.record_call(_rt(request), session, callback_id=callback_id, outcome=body.outcome,
                                   satisfaction=body.satisfaction, note=body.note, caller=caller, now=now)
    return _callback_out(row)


@router.post("/survey/links", status_code=201, response_model=list[sc.LinkOut],
             summary="Issue single-use rating links for the month's closed portal and Open311 cases")
async def issue_links(request: Request, body: sc.LinksIn, session: DbSession, now: Now,
                      caller: Annotated[Principal, allow(*SURVEYORS)]) -> list[sc.LinkOut]:
    rt = _rt(request)
    links = await survey.issue_links(rt, session, period=period_of(rt, body.month, None, None), caller=caller, now=now)
    return [sc.LinkOut(case_id=ln.case_id, case_no=ln.case_no, channel=ln.channel, token=ln.token,
                       path=f"/api/v1/evaluation/survey/answer/{ln.token}", expires_at=ln.expires_at) for ln in links]


def _token(token: str) -> str:
    if len(token) > 64:
        raise InvalidInput("token is too long", field="token")
    return token


@router.get("/survey/answer/{token}", response_model=sc.SurveyCaseOut, summary="The case a rating link is for")
async def survey_case(token: str, session: DbSession, now: Now,
                      _: Annotated[Principal | None, public()]) -> sc.SurveyCaseOut:
    tok, case = await survey.by_token(session, _token(token), now)
    return sc.SurveyCaseOut(case_no=case.case_no, title=case.title, closed_at=case.closed_at,
                            answered=tok.used_at is not None)


@router.post("/survey/answer/{token}", status_code=201,
             summary="Rate a closed case from a survey link (满意 / 基本满意 / 不满意)")
async def survey_answer(token: str, body: sc.SurveyAnswerIn, session: DbSession, now: Now,
                        _: Annotated[Principal | None, public()]) -> dict[str, str]:
    r = await survey.answer_link(session, token=_token(token), satisfaction=body.satisfaction,
                                 comment=body.comment, now=now)
    return {"satisfaction": r.satisfaction, "channel": r.channel}
