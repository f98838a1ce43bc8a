"""Use cases on places and households: set up the county tree, file and update households.

Every use case takes the ``Actor`` and checks that the county it touches is the actor's
(``Forbidden`` for a place of another county, ``NotFound`` for a household or rating of
another county, so ids cannot be probed). Statuses are refreshed after each commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from app.clock import Clock, local_date
from app.db import UnitOfWork
from app.errors import Conflict, Forbidden, InvalidIdentifier, InvalidInput, NotFound
from app.rural.context import RuralContext
from app.rural.domain import (
    Actor, FactsError, HouseholdFacts, PlaceLevel, check_facts, county_of, household_rated, place_code_error,
)
from app.rural.idcard import IdNumberError, mask_id_number, normalize_id_number
from app.rural.models import Household, Place
from app.rural.repository import SqlAlchemyRuralRepository
from app.rural.statuses import refresh_figures
from app.taxpayers.domain import mask_person_name

#: Household columns that hold the scorecard's facts (the rest is bookkeeping).
FACT_COLUMNS = (
    "members", "labourers", "years_resident", "health", "education", "land_area", "housing", "assets",
    "annual_income", "operating_income", "debts", "deposits", "production_type", "credit_record", "past_defaults",
    "debt_evasion", "village_assessment", "honours", "bad_records",
)


def require_county(actor: Actor, county_code: str | None) -> str:
    """The county a call works on: the one named (which must be the actor's), else the actor's own.

    Raises ``Forbidden`` for another county and ``InvalidInput`` when an unbound admin names none.
    """
    if county_code and not actor.may_access(county_code):
        raise Forbidden("只能访问本县数据", errors={"county": ["not your county"]})
    county = county_code or actor.county_code
    if not county:
        raise InvalidInput.field("county", "请指定县级代码")
    return county


# --- places ---------------------------------------------------------------------------------

def create_place(code: str, name: str, level: PlaceLevel, parent_code: str | None, *, actor: Actor,
                 uow: UnitOfWork) -> dict[str, Any]:
    """Add a county, township or village. Raises ``InvalidInput``, ``Forbidden`` or ``Conflict``."""
    problem = place_code_error(level, code, parent_code)
    if problem:
        raise InvalidInput.field(*problem)
    require_county(actor, county_of(code))
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        if repo.place(code) is not None:
            raise Conflict(f"代码 {code} 已存在", errors={"code": ["already exists"]})
        if parent_code:
            parent = repo.place(parent_code)
            expected = {PlaceLevel.TOWNSHIP: "county", PlaceLevel.VILLAGE: "township"}[level]
            if parent is None or parent.level != expected:
                raise InvalidInput.field("parent_code", f"上级 {parent_code} 不存在或不是{expected}")
        place = Place(code=code, name=name, level=level.value, parent_code=parent_code, county_code=county_of(code))
        uow.session.add(place)
        try:
            uow.commit()
        except IntegrityError:
            raise Conflict(f"代码 {code} 已存在", errors={"code": ["already exists"]}) from None
        return place_view(place)


def rename_place(code: str, name: str, *, actor: Actor, uow: UnitOfWork) -> dict[str, Any]:
    with uow:
        place = SqlAlchemyRuralRepository(uow.session).place(code)
        if place is None:
            raise NotFound(f"没有代码为 {code} 的地区")
        require_county(actor, place.county_code)
        place.name = name
        uow.commit()
        return place_view(place)


def get_place(code: str, *, actor: Actor, uow: UnitOfWork) -> dict[str, Any]:
    with uow:
        place = SqlAlchemyRuralRepository(uow.session).place(code)
        if place is None:
            raise NotFound(f"没有代码为 {code} 的地区")
        require_county(actor, place.county_code)
        return place_view(place)


def list_places(*, actor: Actor, county: str | None, level: str | None, parent_code: str | None, name: str | None,
                offset: int, limit: int, uow: UnitOfWork) -> tuple[list[dict[str, Any]], int]:
    # an unbound admin naming no county lists every county
    county_code = require_county(actor, county) if county or actor.county_code else None
    with uow:
        rows, total = SqlAlchemyRuralRepository(uow.session).places(
            county_code=county_code, level=level, parent_code=parent_code, name=name, offset=offset, limit=limit)
        return [place_view(p) for p in rows], total


def place_view(p: Place) -> dict[str, Any]:
    return {"code": p.code, "name": p.name, "level": p.level, "parent_code": p.parent_code,
            "county_code": p.county_code}


# --- households -----------------------------------------------------------------------------

def facts_of(data: dict[str, Any]) -> HouseholdFacts:
    """Facts from validated input; raises ``InvalidInput`` naming the field that breaks a rule."""
    try:
        facts = HouseholdFacts.from_mapping(data)
        check_facts(facts)
    except FactsError as exc:
        raise InvalidInput.field(exc.field, exc.reason) from exc
    return facts


def parse_id_number(raw: str, *, today: Any) -> str:
    try:
        return normalize_id_number(raw, today=today)
    except IdNumberError as exc:
        raise InvalidIdentifier.field("id_number", str(exc)) from exc


def fact_columns(facts: HouseholdFacts) -> dict[str, Any]:
    """Household column values for ``facts`` (enums as values, tags as a sorted string)."""
    values = {name: getattr(facts, name) for name in FACT_COLUMNS}
    for name, value in values.items():
        if hasattr(value, "value"):
            values[name] = value.value
    values["bad_records"] = ",".join(sorted(r.value for r in facts.bad_records))
    return values


def stored_facts(h: Any) -> dict[str, Any]:
    """The fact columns of a household row (ORM object or plain row), tags back as a list:
    the inverse of ``fact_columns``."""
    values = {name: getattr(h, name) for name in FACT_COLUMNS}
    values["bad_records"] = [t for t in h.bad_records.split(",") if t]
    return values


def file_household(data: dict[str, Any], *, actor: Actor, uow: UnitOfWork, clock: Clock,
                   ctx: RuralContext) -> dict[str, Any]:
    """File (建档) one household in a village of the actor's county.

    Raises ``InvalidIdentifier`` for a bad ID number, ``InvalidInput`` for bad facts or an
    unknown village, ``Forbidden`` outside the county, ``Conflict`` for an ID already filed.
    """
    if not actor.is_officer or actor.bank_id is None:
        raise Forbidden("只有客户经理可以为农户建档")
    now = clock.now()
    id_number = parse_id_number(data["id_number"], today=local_date(now))
    facts = facts_of(data)
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        village = _village(repo, data["village_code"], actor)
        if repo.household_by_id_number(id_number) is not None:
            raise Conflict("该身份证号码已建档", errors={"id_number": ["already filed"]})
        household = Household(
            county_code=village.county_code, village_code=village.code, bank_id=actor.bank_id,
            id_number=id_number, head_name=data["head_name"].strip(), filed_by=actor.username,
            created_at=now, updated_at=now, **fact_columns(facts))
        uow.session.add(household)
        try:
            uow.commit()
        except IntegrityError:  # filed by a concurrent request since the check above
            raise Conflict("该身份证号码已建档", errors={"id_number": ["already filed"]}) from None
        view = household_view(household, actor=actor, today=local_date(now))
    refresh_figures(village.county_code, villages=[village.code], uow=uow, cache=ctx.figures, policy=ctx.policy,
                    clock=clock)
    return view


def update_household(household_id: int, changes: dict[str, Any], *, actor: Actor, uow: UnitOfWork, clock: Clock,
                     ctx: RuralContext) -> dict[str, Any]:
    """Change a household's facts, name or village; a rating in force keeps the facts it was based on.

    A household that moves takes its loans (their arrears and NPL) to the new village.
    """
    now = clock.now()
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        household = own_household(repo, household_id, actor, for_update=True)
        touched = {household.village_code}
        if changes.get("village_code") and changes["village_code"] != household.village_code:
            village = _village(repo, changes["village_code"], actor)
            household.village_code = village.code
            touched.add(village.code)
            touched |= repo.move_loans({household.id: village.code})
        if changes.get("head_name"):
            household.head_name = changes["head_name"].strip()
        merged = stored_facts(household) | {k: v for k, v in changes.items() if k in FACT_COLUMNS and v is not None}
        for name, value in fact_columns(facts_of(merged)).items():
            setattr(household, name, value)
        household.updated_at = now
        uow.commit()
        view = household_view(household, actor=actor, today=local_date(now))
        county = household.county_code
    refresh_figures(county, villages=touched, uow=uow, cache=ctx.figures, policy=ctx.policy, clock=clock)
    return view


def get_household(household_id: int, *, actor: Actor, uow: UnitOfWork, clock: Clock) -> dict[str, Any]:
    """One household; the full ID number only for the owning officer."""
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        household = own_household(repo, household_id, actor)
        view = household_view(household, actor=actor, today=local_date(clock.now()), detail=True)
        view["loans"] = [loan_view(loan) for loan in repo.loans_of(household.id)]
        return view


def list_households(*, actor: Actor, county: str | None, filters: dict[str, Any], offset: int, limit: int,
                    uow: UnitOfWork, clock: Clock) -> tuple[list[dict[str, Any]], int]:
    """A page of the county's households (ID numbers always masked in lists)."""
    county_code = require_county(actor, county)
    today = local_date(clock.now())
    with uow:
        rows, total = SqlAlchemyRuralRepository(uow.session).households(
            county_code=county_code, today=today, full_names_bank=actor.full_names_bank, offset=offset, limit=limit,
            **filters)
        return [household_view(h, actor=actor, today=today) for h in rows], total


def household_view(h: Household, *, actor: Actor, today: Any, detail: bool = False) -> dict[str, Any]:
    unmasked = detail and actor.sees_id_number_of(h.county_code, h.bank_id)
    in_force = household_rated(h.rating_id, h.rated_until, today)
    view = {
        "id": h.id, "county_code": h.county_code, "village_code": h.village_code,
        "head_name": h.head_name if unmasked else mask_person_name(h.head_name),
        "id_number": h.id_number if unmasked else mask_id_number(h.id_number),
        "id_number_masked": not unmasked,
        "grade": h.grade if in_force else None,
        "score": h.score if in_force else None,
        "limit_amount": h.limit_amount if in_force else None,
        "rated_until": h.rated_until if in_force else None,
        "rating_id": h.rating_id if in_force else None,
        "filed_by": h.filed_by, "created_at": h.created_at, "updated_at": h.updated_at,
    }
    return view | stored_facts(h)


def loan_view(loan: Any) -> dict[str, Any]:
    return {"loan_no": loan.loan_no, "amount": loan.amount, "balance": loan.balance,
            "days_overdue": loan.days_overdue, "issued_on": loan.issued_on, "as_of": loan.as_of}


def _village(repo: SqlAlchemyRuralRepository, code: str, actor: Actor) -> Place:
    village = repo.place(code)
    if village is None or village.level != PlaceLevel.VILLAGE.value:
        raise InvalidInput.field("village_code", f"没有代码为 {code} 的村")
    if not actor.may_access(village.county_code):
        raise Forbidden("只能在本县建档", errors={"village_code": ["not in your county"]})
    return village


def own_household(repo: SqlAlchemyRuralRepository, household_id: int, actor: Actor, *,
                  for_update: bool = False) -> Household:
    """The household if it is in the actor's county; ``NotFound`` otherwise (ids cannot be probed)."""
    household = repo.household(household_id, for_update=for_update)
    if household is None or not actor.may_access(household.county_code):
        raise NotFound(f"没有编号为 {household_id} 的农户")
    return household
