"""Satisfaction survey (满意度回访): single-use rating links for portal and Open311 reporters of closed cases, and a
monthly call-back sample (电话回访) of cases reported by phone. Answers land in ``survey_responses``; the case's own
评价 (``cases.satisfaction``) still wins in the indicators, and a case is rated once."""

from __future__ import annotations

import hashlib
import math
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.auth.service import Principal
from cityops.case.models import Case
from cityops.case.workflow import Satisfaction
from cityops.db import dialect, writing
from cityops.errors import Conflict, InvalidInput, NotFound
from cityops.evaluation.config import Survey
from cityops.evaluation.models import SurveyCallback, SurveyResponse, SurveyToken
from cityops.evaluation.periods import Period
from cityops.evaluation.service import config
from cityops.runtime import Runtime

OUTCOMES = ("reached", "unreachable", "declined")
LINK_CHANNELS = {"public": "portal", "open311": "open311"}


def sample_size(n: int, cfg: Survey) -> int:
    """How many of ``n`` candidates to call: the rate, at least ``callback_min``, at most ``callback_max``."""
    want = max(cfg.callback_min, math.ceil(cfg.callback_rate * n))
    return min(n, cfg.callback_max, want)


def sample_callbacks(case_ids: Sequence[int], cfg: Survey, seed: str) -> list[int]:
    """The pure rule: a reproducible random sample (same month, same candidates → same list), in id order."""
    pool = sorted(set(case_ids))
    return sorted(random.Random(seed).sample(pool, sample_size(len(pool), cfg)))


def _unrated() -> list[ColumnElement[bool]]:
    return [Case.satisfaction.is_(None), ~exists().where(SurveyResponse.case_id == Case.id)]


@dataclass(frozen=True)
class CallbackRow:
    callback: SurveyCallback
    case: Case


async def _rows(session: AsyncSession, month: str) -> list[CallbackRow]:
    rows = (await session.execute(select(SurveyCallback, Case).join(Case, Case.id == SurveyCallback.case_id)
                                  .where(SurveyCallback.month == month).order_by(SurveyCallback.id))).all()
    return [CallbackRow(cb, c) for cb, c in rows]


async def sample(rt: Runtime, session: AsyncSession, *, period: Period, caller: Principal,
                 now: datetime) -> tuple[list[CallbackRow], bool]:
    """Draw the month's call-back list once; later calls return the same list. Returns (rows, drawn now)."""
    existing = await _rows(session, period.label)
    if existing:
        return existing, False
    cfg = config(rt).survey
    ids = list((await session.scalars(select(Case.id).where(
        Case.closed_at >= period.start, Case.closed_at < period.end, Case.channel.in_(cfg.callback_channels),
        *_unrated()))).all())
    chosen = sample_callbacks(ids, cfg, f"{rt.settings.district_code}:{period.label}")
    await session.rollback()
    try:
        async with writing(session):
            for cid in chosen:
                session.add(SurveyCallback(month=period.label, case_id=cid, sampled_at=now, status="pending",
                                           attempts=0))
            await session.flush()
            await audit_service.append(session, now=now, actor_id=caller.user_id, action="survey.callbacks_sampled",
                                       entity_type="survey", entity_id=period.label,
                                       data={"candidates": len(ids), "sampled": chosen})
    except IntegrityError:  # someone drew the same month's list a moment earlier: theirs stands
        return await _rows(session, period.label), False
    return await _rows(session, period.label), True


async def callbacks(session: AsyncSession, *, period: Period) -> list[CallbackRow]:
    return await _rows(session, period.label)


async def record_call(rt: Runtime, session: AsyncSession, *, callback_id: int, outcome: str,
                      satisfaction: str | None, note: str | None, caller: Principal, now: datetime) -> CallbackRow:
    """Record one call: reached (with the rating), unreachable (may be tried again) or declined."""
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of: {', '.join(OUTCOMES)}", field="outcome")
    if outcome == "reached":
        _check_rating(satisfaction)
    elif satisfaction is not None:
        raise InvalidInput("a rating goes only with outcome 'reached'", field="satisfaction")
    async with writing(session):
        q = select(SurveyCallback).where(SurveyCallback.id == callback_id)
        if dialect(session) == "postgresql":
            q = q.with_for_update()  # two operators recording the same call: the second sees the first
        cb = await session.scalar(q.execution_options(populate_existing=True))
        if cb is None:
            raise NotFound(f"no call-back {callback_id}", field="callback_id")
        if cb.status in ("reached", "declined"):
            raise Conflict(f"this call-back is already {cb.status}", field="callback_id")
        case = await session.get(Case, cb.case_id)
        assert case is not None
        cb.attempts += 1
        cb.status, cb.called_at, cb.called_by, cb.note = outcome, now, caller.user_id, note
        if outcome == "reached":
            await _answer(session, case, "callback", satisfaction, note, now, caller.user_id)
        await audit_service.append(session, now=now, actor_id=caller.user_id, action="survey.callback_recorded",
                                   entity_type="case", entity_id=case.id,
                                   data={"callback_id": cb.id, "outcome": outcome, "satisfaction": satisfaction,
                                         "attempts": cb.attempts, "note": note})
    return CallbackRow(cb, case)


def _check_rating(satisfaction: str | None) -> str:
    try:
        return Satisfaction(satisfaction or "").value
    except ValueError:
        raise InvalidInput("satisfaction must be one of: " + ", ".join(s.value for s in Satisfaction),
                           field="satisfaction") from None


async def _answer(session: AsyncSession, case: Case, channel: str, satisfaction: str | None, comment: str | None,
                  now: datetime, by: int | None) -> SurveyResponse:
    if case.closed_at is None:
        raise Conflict("only a closed case can be rated", field="case_id")
    if case.satisfaction is not None or await session.scalar(
            select(SurveyResponse.id).where(SurveyResponse.case_id == case.id)) is not None:
        raise Conflict("this case has been rated already", field="case_id")
    r = SurveyResponse(case_id=case.id, channel=channel, satisfaction=_check_rating(satisfaction), comment=comment,
                       responded_at=now, recorded_by=by)
    session.add(r)
    await session.flush()
    return r


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Link:
    case_id: int
    case_no: str
    channel: str
    token: str  # shown once; only its SHA-256 is kept
    expires_at: datetime


async def issue_links(rt: Runtime, session: AsyncSession, *, period: Period, caller: Principal,
                      now: datetime) -> list[Link]:
    """Links for the reporters of the month's closed portal and Open311 cases that are unrated and have no live
    link yet (the portal / Open311 client shows or sends them)."""
    live = exists().where(SurveyToken.case_id == Case.id, SurveyToken.used_at.is_(None),
                          SurveyToken.expires_at > now)
    cases = (await session.execute(select(Case.id, Case.case_no, Case.channel).where(
        Case.closed_at >= period.start, Case.closed_at < period.end, Case.channel.in_(tuple(LINK_CHANNELS)),
        *_unrated(), ~live).order_by(Case.id))).all()
    expires = now + timedelta(days=config(rt).survey.token_days)
    links = [Link(cid, no, LINK_CHANNELS[ch], secrets.token_urlsafe(24), expires) for cid, no, ch in cases]
    await session.rollback()
    async with writing(session):
        for ln in links:
            session.add(SurveyToken(case_id=ln.case_id, token_hash=_digest(ln.token), channel=ln.channel,
                                    created_at=now, expires_at=expires, created_by=caller.user_id))
        await session.flush()
        await audit_service.append(session, now=now, actor_id=caller.user_id, action="survey.links_issued",
                                   entity_type="survey", entity_id=period.label,
                                   data={"case_ids": [ln.case_id for ln in links]})
    return links


async def by_token(session: AsyncSession, token: str, now: datetime) -> tuple[SurveyToken, Case]:
    row = (await session.execute(select(SurveyToken, Case).join(Case, Case.id == SurveyToken.case_id)
                                 .where(SurveyToken.token_hash == _digest(token)))).first()
    # Unknown and expired read the same: a link cannot be probed for validity.
    if row is None or row[0].expires_at <= now:
        raise NotFound("this survey link is unknown or has expired", field="token")
    return row[0], row[1]


async def answer_link(session: AsyncSession, *, token: str, satisfaction: str, comment: str | None,
                      now: datetime) -> SurveyResponse:
    async with writing(session):
        tok, case = await by_token(session, token, now)
        if tok.used_at is not None:
            raise Conflict("this survey link has been used already", field="token")
        r = await _answer(session, case, tok.channel, satisfaction, comment, now, None)
        tok.used_at = now
        await audit_service.append(session, now=now, actor_id=None, action="survey.answered", entity_type="case",
                                   entity_id=case.id, data={"channel": tok.channel, "satisfaction": r.satisfaction,
                                                            "comment": comment})
    return r
