"""Use cases of a household rating: proposal, public notice and
objections, confirmation or withdrawal, the loan limit in force — one by one and in bulk
(scorecard versions are in ``scorecard_versions.py``).

Lifecycle: ``propose`` scores the household on the county's active scorecard version and
posts the result (score, grade, every item, veto, proposed limit) for public notice; during
the notice objections are recorded and resolved; after it ends an officer confirms the
rating (only with no objection open or upheld) or withdraws it. A confirmed rating is in
force for one year and supersedes the household's previous one.
"""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from typing import Any, Sequence

from sqlalchemy.exc import IntegrityError

from app.clock import Clock, LOCAL_TZ, local_date
from app.db import UnitOfWork, bulk_insert
from app.errors import Conflict, Forbidden, NotFound
from app.rural.context import RuralContext
from app.rural.domain import (
    Actor, HouseholdFacts, ObjectionOutcome, RatingState, household_rated, is_in_force, notice_ends_at, valid_until,
)
from app.rural.limits import loan_limit, loan_rate
from app.rural.models import Household, Objection, Rating
from app.rural.repository import SqlAlchemyRuralRepository, bulk_update
from app.rural.scorecard import Scorecard, evaluate, explain
from app.rural.scorecard_versions import ActiveCard, active_scorecard, parsed_scorecard
from app.rural.service import own_household, require_county, stored_facts
from app.rural.statuses import refresh_figures, village_stars
from app.taxpayers.domain import mask_person_name


# --- one rating -----------------------------------------------------------------------------

def facts_from_row(h: Any) -> HouseholdFacts:
    """Facts of a household row (an ORM object or a plain row with the same columns)."""
    return HouseholdFacts.from_mapping(stored_facts(h))


def _proposal(h: Any, card: ActiveCard, *, actor: Actor, now: datetime, notice_end: datetime,
              ctx: RuralContext) -> dict[str, Any]:
    """The row of a new proposed rating of ``h`` (scored, limit proposed, notice set)."""
    result = evaluate(card.card, facts_from_row(h), reasons=False)
    quote = loan_limit(result.grade, assets=h.assets, operating_income=h.operating_income, policy=ctx.policy.limits)
    return {
        "household_id": h.id, "county_code": h.county_code, "village_code": h.village_code,
        "scorecard_id": card.id, "state": RatingState.PROPOSED.value, "score": result.score,
        "grade": result.grade.value if result.grade else None, "veto": result.veto, "items": result.compact_items(),
        "proposed_by": actor.username, "proposed_at": now,
        "notice_ends_at": notice_end,
        "limit_amount": quote.amount, "limit_terms": quote.terms_json(),
    }


def propose_rating(household_id: int, *, actor: Actor, uow: UnitOfWork, clock: Clock,
                   ctx: RuralContext) -> dict[str, Any]:
    """Rate a household and post the result for public notice.

    Raises ``NotFound`` outside the actor's county and ``Conflict`` while a proposal is open.
    """
    now = clock.now()
    with uow:
        household = _own_household(SqlAlchemyRuralRepository(uow.session), household_id, actor)
        county = household.county_code
    card = active_scorecard(county, uow=uow, ctx=ctx)
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        repo.lock_proposals_of(county)  # one proposing transaction per county at a time (a bulk run too)
        household = _own_household(repo, household_id, actor, for_update=True)
        if repo.open_proposal(household.id) is not None:
            raise _in_notice()
        rating = Rating(**_proposal(household, card, actor=actor, now=now, ctx=ctx,
                                    notice_end=notice_ends_at(now, ctx.policy.notice_days)))
        uow.session.add(rating)
        try:
            uow.commit()
        except IntegrityError:
            # uq_rural_ratings_household_in_notice (the table's only unique index; the household and
            # scorecard rows exist): a proposal written by something that did not take the county
            # lock. The same answer as the check above, not a 500.
            raise _in_notice() from None
        return rating_view(rating, card.card, [], today=local_date(now), full_names=False) | {
            "scorecard_version": card.version}


def record_objection(rating_id: int, *, raised_by: str, reason: str, actor: Actor, uow: UnitOfWork,
                     clock: Clock, ctx: RuralContext) -> dict[str, Any]:
    """Record an objection during the notice. Raises ``Conflict`` once the notice has ended."""
    now = clock.now()
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        rating = _own_rating(repo, rating_id, actor, for_update=True)
        if rating.state != RatingState.PROPOSED.value or now >= rating.notice_ends_at:
            raise Conflict("公示期已结束，不能再提出异议", errors={"rating_id": ["notice has ended"]})
        uow.session.add(Objection(rating_id=rating.id, raised_by=raised_by.strip(), reason=reason.strip(),
                                  recorded_by=actor.username, recorded_at=now))
        uow.commit()
        return _view(repo, rating, ctx, actor=actor, today=local_date(now))


def resolve_objection(rating_id: int, objection_id: int, *, outcome: ObjectionOutcome, note: str, actor: Actor,
                      uow: UnitOfWork, clock: Clock, ctx: RuralContext) -> dict[str, Any]:
    """Uphold (the rating must then be withdrawn) or dismiss an objection."""
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        rating = _own_rating(repo, rating_id, actor, for_update=True)
        objection = repo.objection(objection_id)
        if objection is None or objection.rating_id != rating.id:
            raise NotFound(f"没有编号为 {objection_id} 的异议")
        if objection.outcome is not None:
            raise Conflict("该异议已处理", errors={"objection_id": ["already resolved"]})
        objection.outcome, objection.outcome_note = outcome.value, note.strip()
        objection.resolved_by, objection.resolved_at = actor.username, clock.now()
        uow.commit()
        return _view(repo, rating, ctx, actor=actor, today=local_date(clock.now()))


def confirm_rating(rating_id: int, *, actor: Actor, uow: UnitOfWork, clock: Clock,
                   ctx: RuralContext) -> dict[str, Any]:
    """Put a rating in force for a year once its notice has ended without a standing objection.

    Raises ``Conflict`` during the notice, with an open or upheld objection, or when the
    rating is no longer a proposal.
    """
    now = clock.now()
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        rating = _own_rating(repo, rating_id, actor, for_update=True)
        if rating.state != RatingState.PROPOSED.value:
            raise Conflict(f"该评定状态为 {rating.state}，不能确认", errors={"state": [rating.state]})
        if now < rating.notice_ends_at:
            ends = rating.notice_ends_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
            raise Conflict(f"公示期未满，{ends}（北京时间）后方可确认", errors={"notice_ends_at": ["notice not over"]})
        outcomes = [o.outcome for o in repo.objections([rating.id])]
        if None in outcomes:
            raise Conflict("有未处理的异议", errors={"objections": ["open objection"]})
        if ObjectionOutcome.UPHELD.value in outcomes:
            raise Conflict("异议成立，请撤回后重新评定", errors={"objections": ["upheld objection"]})
        household = repo.household(rating.household_id, for_update=True)
        assert household is not None
        row = SimpleNamespace(id=rating.id, household_id=household.id, grade=rating.grade, score=rating.score,
                              limit_amount=rating.limit_amount, previous_rating_id=household.rating_id)
        _put_in_force([row], actor=actor, now=now, ctx=ctx, uow=uow)
        uow.commit()
        uow.session.expire_all()  # the bulk updates bypassed the loaded objects
        view = _view(repo, rating, ctx, actor=actor, today=local_date(now), household_bank=household.bank_id)
        # a village's figures count households and loans where they are now (a move refreshed the old one)
        county, villages = rating.county_code, {household.village_code}
    refresh_figures(county, villages=villages, uow=uow, cache=ctx.figures, policy=ctx.policy, clock=clock)
    return view


def withdraw_rating(rating_id: int, *, note: str, actor: Actor, uow: UnitOfWork, clock: Clock,
                    ctx: RuralContext) -> dict[str, Any]:
    """Withdraw a proposal, or a rating in force (the household then has none)."""
    now = clock.now()
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        rating = _own_rating(repo, rating_id, actor, for_update=True)
        if rating.state not in (RatingState.PROPOSED.value, RatingState.CONFIRMED.value):
            raise Conflict(f"该评定状态为 {rating.state}，不能撤回", errors={"state": [rating.state]})
        was_in_force = rating.state == RatingState.CONFIRMED.value
        rating.state, rating.decided_by, rating.decided_at = RatingState.WITHDRAWN.value, actor.username, now
        rating.decision_note = note.strip()
        villages: set[str] = set()
        household = repo.household(rating.household_id, for_update=True) if was_in_force else None
        if household is not None:
            villages = {household.village_code}  # where it counts now (see confirm_rating)
            if household.rating_id == rating.id:
                household.rating_id = household.grade = household.score = None
                household.limit_amount = household.rated_until = None
        uow.commit()
        view = _view(repo, rating, ctx, actor=actor, today=local_date(now),
                     household_bank=household.bank_id if household is not None else None)
        county = rating.county_code
    if was_in_force:
        refresh_figures(county, villages=villages, uow=uow, cache=ctx.figures, policy=ctx.policy, clock=clock)
    return view


def _put_in_force(rows: Sequence[Any], *, actor: Actor, now: datetime, ctx: RuralContext, uow: UnitOfWork) -> None:
    """Confirm ratings (already checked) and make each its household's rating in force.

    ``rows`` carry ``id, household_id, grade, score, limit_amount, previous_rating_id`` (a
    repository row or an object with those attributes).
    """
    until = valid_until(local_date(now), ctx.policy.rating_valid_years)
    superseded = [r.previous_rating_id for r in rows if r.previous_rating_id is not None]
    bulk_update(uow.session, Rating, [{"id": rid, "state": RatingState.SUPERSEDED.value} for rid in superseded])
    bulk_update(uow.session, Rating, [
        {"id": r.id, "state": RatingState.CONFIRMED.value, "decided_by": actor.username, "decided_at": now,
         "valid_until": until} for r in rows])
    bulk_update(uow.session, Household, [
        {"id": r.household_id, "rating_id": r.id, "grade": r.grade, "score": r.score, "limit_amount": r.limit_amount,
         "rated_until": until} for r in rows])


# --- in bulk --------------------------------------------------------------------------------

def propose_ratings(county: str | None, *, village_code: str | None = None, actor: Actor, uow: UnitOfWork,
                    clock: Clock, ctx: RuralContext, batch: int = 5000) -> dict[str, int]:
    """Rate every household of the county (or village) without a rating in force or in notice.

    Scores are computed in Python a batch at a time and inserted in bulk, in one transaction that
    holds the county (``lock_proposals_of``): two overlapping runs never propose a household twice.
    """
    _officer_only(actor)
    county_code = require_county(actor, county)
    now = clock.now()
    card = active_scorecard(county_code, uow=uow, ctx=ctx)
    notice_end = notice_ends_at(now, ctx.policy.notice_days)
    proposed = skipped = 0
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        repo.lock_proposals_of(county_code)  # an overlapping run waits, then skips what this one proposed
        open_ids = repo.households_in_notice(county_code, village_code)
        for rows in repo.iter_households(county_code=county_code, village_code=village_code, unrated_only=True,
                                         today=local_date(now), batch=batch):
            values = [_proposal(h, card, actor=actor, now=now, notice_end=notice_end, ctx=ctx)
                      for h in rows if h.id not in open_ids]
            skipped += len(rows) - len(values)
            # No IntegrityError to handle here: every proposal is written under its household's county
            # lock (a household never changes county), held since before ``open_ids`` was read, and
            # ``iter_households`` yields each household once. A collision on
            # uq_rural_ratings_household_in_notice would mean a writer skipped the lock: the run then
            # fails whole (rolled back, nothing half-proposed) instead of proposing a household twice.
            bulk_insert(uow.session, Rating, values)
            proposed += len(values)
        uow.commit()
    return {"proposed": proposed, "skipped": skipped}


def confirm_due_ratings(county: str | None, *, village_code: str | None = None, actor: Actor, uow: UnitOfWork,
                        clock: Clock, ctx: RuralContext, batch: int = 5000) -> dict[str, int]:
    """Confirm every proposal whose notice has ended with no objection open or upheld."""
    _officer_only(actor)
    county_code = require_county(actor, county)
    now = clock.now()
    with uow:
        rows = SqlAlchemyRuralRepository(uow.session).due_proposals(county_code=county_code,
                                                                     village_code=village_code, now=now)
        for start in range(0, len(rows), batch):
            _put_in_force(rows[start:start + batch], actor=actor, now=now, ctx=ctx, uow=uow)
        uow.commit()
        villages = {r.village_code for r in rows}  # the households' villages now
    if villages:
        refresh_figures(county_code, villages=villages, uow=uow, cache=ctx.figures, policy=ctx.policy, clock=clock)
    return {"confirmed": len(rows)}


# --- reading --------------------------------------------------------------------------------

def get_rating(rating_id: int, *, actor: Actor, uow: UnitOfWork, clock: Clock, ctx: RuralContext) -> dict[str, Any]:
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        return _view(repo, _own_rating(repo, rating_id, actor), ctx, actor=actor, today=local_date(clock.now()))


def list_ratings(*, actor: Actor, county: str | None, filters: dict[str, Any], offset: int, limit: int,
                 uow: UnitOfWork, clock: Clock, ctx: RuralContext) -> tuple[list[dict[str, Any]], int]:
    county_code = require_county(actor, county)
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        rows, total = repo.ratings(county_code=county_code, offset=offset, limit=limit, **filters)
        objections = repo.objections([r.id for r in rows])
        banks = repo.household_banks({r.household_id for r in rows})
        today = local_date(clock.now())
        return [_view(repo, r, ctx, actor=actor, today=today, household_bank=banks[r.household_id],
                      objections=[o for o in objections if o.rating_id == r.id]) for r in rows], total


def household_ratings(household_id: int, *, actor: Actor, offset: int, limit: int, uow: UnitOfWork,
                      clock: Clock, ctx: RuralContext) -> tuple[list[dict[str, Any]], int]:
    """A household's ratings, newest first. Raises ``NotFound`` outside the actor's county."""
    with uow:
        county = own_household(SqlAlchemyRuralRepository(uow.session), household_id, actor).county_code
    return list_ratings(actor=actor, county=county, filters={"household_id": household_id}, offset=offset,
                        limit=limit, uow=uow, clock=clock, ctx=ctx)


def current_limit(household_id: int, *, actor: Actor, uow: UnitOfWork, clock: Clock,
                  ctx: RuralContext) -> dict[str, Any]:
    """The household's loan limit in force with each term, its validity and today's rate.

    Raises ``NotFound`` when the household has no rating in force.
    """
    today = local_date(clock.now())
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        household = _own_household(repo, household_id, actor)
        if not household_rated(household.rating_id, household.rated_until, today):
            raise NotFound("该农户没有有效的信用评定", errors={"household_id": ["no rating in force"]})
        rating = repo.rating(household.rating_id)
        assert rating is not None
        county, village = household.county_code, household.village_code
        view = {"household_id": household.id, "rating_id": rating.id, "grade": rating.grade,
                "amount": rating.limit_amount, "terms": rating.limit_terms,
                "valid_from": local_date(rating.decided_at) if rating.decided_at else None,
                "valid_until": rating.valid_until}
    stars = village_stars(county, village, uow=uow, cache=ctx.figures, policy=ctx.policy, clock=clock)
    quote = loan_rate(stars, ctx.policy.rates)
    return view | {"rate": {"village_stars": quote.stars, "lpr": quote.lpr, "bp": quote.bp, "rate": quote.rate,
                            "explanation": quote.explanation}}


def rating_view(rating: Rating, card: Scorecard, objections: Sequence[Objection], *, today: date,
                full_names: bool) -> dict[str, Any]:
    """A rating for the API; a confirmed rating whose year has run out shows as ``expired``.

    ``full_names``: whether the objectors' names show in full; otherwise masked like the head's
    name in lists (surname and ``*``, DOMAIN.md §1) — a villager who objected during the public
    notice is not spelled out to every bank of the county."""
    items = explain(card, rating.items)
    state = rating.state
    if state == RatingState.CONFIRMED.value and not is_in_force(state, rating.valid_until, today):
        state = "expired"
    veto = next((v for v in card.vetoes if v.key == rating.veto), None)
    return {
        "id": rating.id, "household_id": rating.household_id, "village_code": rating.village_code,
        "scorecard_id": rating.scorecard_id, "scorecard": card.name, "state": state,
        "score": rating.score, "grade": rating.grade, "credit_household": rating.grade is not None,
        "veto": {"key": veto.key, "reason": veto.reason} if veto else None,
        "items": [{"key": i.key, "group": i.group, "title": i.title, "points": i.points, "max": i.max,
                   "reason": i.reason} for i in items],
        "proposed_by": rating.proposed_by, "proposed_at": rating.proposed_at, "notice_ends_at": rating.notice_ends_at,
        "decided_by": rating.decided_by, "decided_at": rating.decided_at, "decision_note": rating.decision_note,
        "valid_until": rating.valid_until, "limit_amount": rating.limit_amount, "limit_terms": rating.limit_terms,
        "objections": [{"id": o.id, "raised_by": o.raised_by if full_names else mask_person_name(o.raised_by),
                        "reason": o.reason, "recorded_by": o.recorded_by,
                        "recorded_at": o.recorded_at, "outcome": o.outcome, "outcome_note": o.outcome_note,
                        "resolved_at": o.resolved_at} for o in objections],
    }


def _view(repo: SqlAlchemyRuralRepository, rating: Rating, ctx: RuralContext, *, actor: Actor, today: date,
          objections: Sequence[Objection] | None = None, household_bank: int | None = None) -> dict[str, Any]:
    """``rating_view`` for ``actor``: objectors are named in full only to the officers who see the
    household in full (``Actor.sees_id_number_of``: its county, the bank that filed it)."""
    row = repo.scorecard(rating.scorecard_id)
    assert row is not None
    if objections is None:
        objections = repo.objections([rating.id])
    if household_bank is None:
        household_bank = repo.household_banks([rating.household_id])[rating.household_id]
    return rating_view(rating, parsed_scorecard(row.body), objections, today=today,
                       full_names=actor.sees_id_number_of(rating.county_code, household_bank)) | {
        "scorecard_version": row.version}


def _in_notice() -> Conflict:
    """The answer to a proposal for a household that already has one in notice."""
    return Conflict("该农户已有公示中的评定，请先确认或撤回", errors={"household_id": ["rating in notice"]})


def _officer_only(actor: Actor) -> None:
    if not actor.is_officer:
        raise Forbidden("只有客户经理可以评定农户和查看授信")


def _own_household(repo: SqlAlchemyRuralRepository, household_id: int, actor: Actor, *,
                   for_update: bool = False) -> Household:
    """``service.own_household`` for the officer-only use cases (rating, the limit)."""
    _officer_only(actor)
    return own_household(repo, household_id, actor, for_update=for_update)


def _own_rating(repo: SqlAlchemyRuralRepository, rating_id: int, actor: Actor, *, for_update: bool = False) -> Rating:
    rating = repo.rating(rating_id, for_update=for_update)
    if rating is None or not actor.may_access(rating.county_code):
        raise NotFound(f"没有编号为 {rating_id} 的评定")
    return rating
