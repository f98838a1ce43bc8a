"""Queries over the rural tables. Every query that can span counties takes ``county_code``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import and_, bindparam, case, distinct, false, func, or_, select, update
from sqlalchemy.orm import Session

from app.db import page
from app.rural.models import Household, Loan, Objection, Place, Rating, Scorecard
from app.rural.standing import Figures


class SqlAlchemyRuralRepository:
    def __init__(self, session: Session):
        self.session = session

    # places -----------------------------------------------------------------------------------
    def place(self, code: str) -> Place | None:
        return self.session.get(Place, code)

    def places(self, *, county_code: str | None, level: str | None = None, parent_code: str | None = None,
               name: str | None = None, offset: int = 0, limit: int = 50) -> tuple[list[Place], int]:
        stmt = select(Place)
        if county_code:
            stmt = stmt.where(Place.county_code == county_code)
        if level:
            stmt = stmt.where(Place.level == level)
        if parent_code:
            stmt = stmt.where(Place.parent_code == parent_code)
        if name:
            stmt = stmt.where(Place.name.contains(name))
        return page(self.session, stmt.order_by(Place.code), offset, limit)

    def places_of_county(self, county_code: str) -> list[Place]:
        return list(self.session.scalars(select(Place).where(Place.county_code == county_code).order_by(Place.code)))

    # households -------------------------------------------------------------------------------
    def household(self, household_id: int, *, for_update: bool = False) -> Household | None:
        return self._by_id(Household, household_id, for_update)

    def household_banks(self, household_ids: Iterable[int]) -> dict[int, int]:
        """The bank that filed each of ``household_ids``."""
        ids = list(household_ids)
        if not ids:
            return {}
        return dict(self.session.execute(select(Household.id, Household.bank_id).where(Household.id.in_(ids))).all())

    def household_by_id_number(self, id_number: str) -> Household | None:
        return self.session.scalars(select(Household).where(Household.id_number == id_number)).first()

    def households(self, *, county_code: str, village_code: str | None = None, township_code: str | None = None,
                   grade: str | None = None, rated: bool | None = None, name: str | None = None, today: date,
                   full_names_bank: int | None = None, offset: int = 0,
                   limit: int = 50) -> tuple[list[Household], int]:
        stmt = select(Household).where(Household.county_code == county_code)
        if village_code:
            stmt = stmt.where(Household.village_code == village_code)
        if township_code:
            stmt = stmt.where(Household.village_code.startswith(township_code))
        in_force = _rated(today)
        if grade == "none":
            stmt = stmt.where(or_(~in_force, Household.grade.is_(None)))
        elif grade:
            stmt = stmt.where(in_force, Household.grade == grade)
        if rated is True:
            stmt = stmt.where(in_force)
        elif rated is False:
            stmt = stmt.where(~in_force)  # a NULL rating_id makes in_force false, never NULL
        if name:
            stmt = stmt.where(Household.head_name.startswith(name))
            if len(name) > 1:  # past the surname lists show: only names the caller sees in full
                stmt = stmt.where(Household.bank_id == full_names_bank if full_names_bank is not None else false())
        return page(self.session, stmt.order_by(Household.village_code, Household.id), offset, limit)

    def existing_by_id_number(self, id_numbers: Sequence[str]) -> dict[str, Any]:
        """Rows (all fact columns) of the households with these ID numbers."""
        rows = self.session.execute(select(Household).where(Household.id_number.in_(id_numbers)))
        return {h.id_number: h for (h,) in rows}

    def household_ids_for(self, county_code: str, id_numbers: Sequence[str]) -> dict[str, tuple[int, str]]:
        """ID number → (household id, village code), for households of ``county_code`` only."""
        rows = self.session.execute(
            select(Household.id_number, Household.id, Household.village_code)
            .where(Household.county_code == county_code, Household.id_number.in_(id_numbers)))
        return {number: (hid, village) for number, hid, village in rows}

    def iter_households(self, *, county_code: str, village_code: str | None = None, unrated_only: bool,
                        today: date, batch: int = 5000) -> Iterator[Sequence[Any]]:
        """The county's household rows (plain rows, every column) in id order, ``batch`` at a time."""
        table = Household.__table__
        last = 0
        while True:
            stmt = select(table).where(table.c.county_code == county_code, table.c.id > last)
            if village_code:
                stmt = stmt.where(table.c.village_code == village_code)
            if unrated_only:
                stmt = stmt.where(or_(table.c.rating_id.is_(None), table.c.rated_until <= today))
            rows = list(self.session.execute(stmt.order_by(table.c.id).limit(batch)))
            if not rows:
                return
            yield rows
            last = rows[-1].id

    # scorecards -------------------------------------------------------------------------------
    def scorecard(self, scorecard_id: int) -> Scorecard | None:
        return self.session.get(Scorecard, scorecard_id)

    def active_scorecard(self, county_code: str | None) -> Scorecard | None:
        """The newest version for the county, else the newest default version."""
        for scope in ([county_code] if county_code else []) + [None]:
            where = Scorecard.county_code == scope if scope else Scorecard.county_code.is_(None)
            row = self.session.scalars(select(Scorecard).where(where).order_by(Scorecard.id.desc()).limit(1)).first()
            if row is not None:
                return row
        return None

    def scorecards(self, *, county_code: str | None, offset: int, limit: int) -> tuple[list[Scorecard], int]:
        stmt = select(Scorecard)
        if county_code:
            stmt = stmt.where(or_(Scorecard.county_code == county_code, Scorecard.county_code.is_(None)))
        return page(self.session, stmt.order_by(Scorecard.id.desc()), offset, limit)

    def latest_version(self, name: str) -> int:
        return self.session.scalar(select(func.max(Scorecard.version)).where(Scorecard.name == name)) or 0

    # ratings ----------------------------------------------------------------------------------
    def rating(self, rating_id: int, *, for_update: bool = False) -> Rating | None:
        return self._by_id(Rating, rating_id, for_update)

    def open_proposal(self, household_id: int) -> Rating | None:
        return self.session.scalars(select(Rating).where(
            Rating.household_id == household_id, Rating.state == "proposed")).first()

    def lock_proposals_of(self, county_code: str) -> None:
        """Hold the county's row until this transaction ends, so that proposing ratings in the
        county happens one transaction at a time: a second "rate all" (a double click, a second
        officer) or a single proposal waits here, then sees the first one's proposals in notice.

        A write, not ``SELECT … FOR UPDATE``: SQLite ignores that clause but gives a writer its
        lock at once, and PostgreSQL row-locks an UPDATE the same way (the row is unchanged)."""
        self.session.execute(update(Place).where(Place.code == county_code).values(name=Place.name))

    def households_in_notice(self, county_code: str, village_code: str | None = None) -> set[int]:
        """Households with a proposal in notice, those living in ``village_code`` now when given
        (the proposal's own village is where it lived when rated)."""
        stmt = select(Rating.household_id).where(Rating.county_code == county_code, Rating.state == "proposed")
        if village_code:
            stmt = stmt.join(Household, Household.id == Rating.household_id).where(
                Household.village_code == village_code)
        return set(self.session.scalars(stmt))

    def ratings(self, *, county_code: str, household_id: int | None = None, state: str | None = None,
                village_code: str | None = None, grade: str | None = None, offset: int = 0,
                limit: int = 50) -> tuple[list[Rating], int]:
        stmt = select(Rating).where(Rating.county_code == county_code)
        if household_id is not None:
            stmt = stmt.where(Rating.household_id == household_id)
        if state:
            stmt = stmt.where(Rating.state == state)
        if village_code:
            stmt = stmt.where(Rating.village_code == village_code)
        if grade:
            stmt = stmt.where(Rating.grade == grade)
        return page(self.session, stmt.order_by(Rating.id.desc()), offset, limit)

    def objections(self, rating_ids: Sequence[int]) -> list[Objection]:
        if not rating_ids:
            return []
        return list(self.session.scalars(
            select(Objection).where(Objection.rating_id.in_(rating_ids)).order_by(Objection.id)))

    def objection(self, objection_id: int) -> Objection | None:
        return self.session.get(Objection, objection_id)

    def due_proposals(self, *, county_code: str, village_code: str | None, now: Any) -> list[Any]:
        """Proposals whose notice has ended and that have no open or upheld objection, as plain
        rows ``(id, household_id, village_code, grade, score, limit_amount, previous_rating_id)``;
        ``village_code`` is the household's now (it may have moved since the proposal)."""
        blocked = select(Objection.rating_id).where(or_(Objection.outcome.is_(None), Objection.outcome == "upheld"))
        stmt = (select(Rating.id, Rating.household_id, Household.village_code, Rating.grade, Rating.score,
                       Rating.limit_amount, Household.rating_id.label("previous_rating_id"))
                .join(Household, Household.id == Rating.household_id)
                .where(Rating.county_code == county_code, Rating.state == "proposed", Rating.notice_ends_at <= now,
                       Rating.id.not_in(blocked)))
        if village_code:  # the households living there now
            stmt = stmt.where(Household.village_code == village_code)
        return list(self.session.execute(stmt.order_by(Rating.id)))

    # loans ------------------------------------------------------------------------------------
    def loans_by_number(self, bank_id: int, loan_nos: Sequence[str]) -> dict[str, Loan]:
        rows = self.session.scalars(select(Loan).where(Loan.bank_id == bank_id, Loan.loan_no.in_(loan_nos)))
        return {loan.loan_no: loan for loan in rows}

    def loans(self, *, county_code: str, village_code: str | None = None, household_id: int | None = None,
              overdue: bool | None = None, offset: int = 0, limit: int = 50) -> tuple[list[Loan], int]:
        stmt = select(Loan).where(Loan.county_code == county_code)
        if village_code:
            stmt = stmt.where(Loan.village_code == village_code)
        if household_id is not None:
            stmt = stmt.where(Loan.household_id == household_id)
        if overdue is True:
            stmt = stmt.where(Loan.days_overdue > 0, Loan.balance > 0)
        elif overdue is False:
            stmt = stmt.where(or_(Loan.days_overdue == 0, Loan.balance == 0))
        return page(self.session, stmt.order_by(Loan.village_code, Loan.id), offset, limit)

    def loans_of(self, household_id: int) -> list[Loan]:
        return list(self.session.scalars(select(Loan).where(Loan.household_id == household_id).order_by(Loan.id)))

    def move_loans(self, moves: dict[int, str]) -> set[str]:
        """Put the loans of each household in ``moves`` (household id → its new village) in that
        village, so arrears and NPL follow the household; returns the villages they left."""
        if not moves:
            return set()
        left = set(self.session.scalars(
            select(Loan.village_code).distinct().where(Loan.household_id.in_(moves))))
        self.session.execute(
            update(Loan.__table__).where(Loan.__table__.c.household_id == bindparam("_household_id")),
            [{"_household_id": hid, "village_code": code} for hid, code in moves.items()])
        return left

    # figures ----------------------------------------------------------------------------------
    def village_figures(self, county_code: str, *, today: date, npl_days: int, new_npl_from: date,
                        villages: Sequence[str] | None = None) -> dict[str, Figures]:
        """Each village's figures (DOMAIN.md §5 / report columns) in three grouped queries.

        ``new_npl_from``: a loan overdue since this date or later, and now past ``npl_days``,
        became non-performing this year.
        """
        in_force = _rated(today)
        h = (select(
                Household.village_code,
                func.count(),
                func.sum(case((in_force, 1), else_=0)),
                func.sum(case((and_(in_force, Household.grade.is_not(None)), 1), else_=0)),
                func.sum(case((and_(in_force, Household.limit_amount > 0), 1), else_=0)),
                func.sum(case((in_force, Household.limit_amount), else_=0)),
             ).where(Household.county_code == county_code).group_by(Household.village_code))
        npl = Loan.days_overdue > npl_days
        owing = Loan.balance > 0
        loans = (select(
                Loan.village_code,
                func.count(distinct(case((owing, Loan.household_id)))),
                func.count(distinct(case((and_(owing, Loan.days_overdue > 0), Loan.household_id)))),
                func.count(),
                func.sum(Loan.amount),
                func.sum(Loan.balance),
                func.sum(case((Loan.days_overdue > 0, Loan.balance), else_=0)),
                func.sum(case((npl, Loan.balance), else_=0)),
                func.sum(case((and_(npl, Loan.overdue_since >= new_npl_from), Loan.balance), else_=0)),
             ).where(Loan.county_code == county_code).group_by(Loan.village_code))
        places = select(Place.code).where(Place.county_code == county_code, Place.level == "village")
        if villages is not None:
            h = h.where(Household.village_code.in_(villages))
            loans = loans.where(Loan.village_code.in_(villages))
            places = places.where(Place.code.in_(villages))
        out = {code: Figures() for code in self.session.scalars(places)}
        for code, n, rated, credit, with_limit, limits in self.session.execute(h):
            f = out.setdefault(code, Figures())
            f.households, f.rated, f.credit_households = int(n), int(rated or 0), int(credit or 0)
            f.with_limit, f.total_limits = int(with_limit or 0), _money(limits)
        for row in self.session.execute(loans):
            code, borrowers, arrears, count, amount, balance, arrears_bal, npl_bal, new_npl = row
            f = out.setdefault(code, Figures())
            f.borrowers, f.borrowers_in_arrears, f.loans = int(borrowers or 0), int(arrears or 0), int(count)
            f.amount_lent, f.balance, f.arrears_balance = _money(amount), _money(balance), _money(arrears_bal)
            f.npl_balance, f.new_npl_balance = _money(npl_bal), _money(new_npl)
        return out

    # helpers ----------------------------------------------------------------------------------
    def _by_id(self, model: Any, row_id: int, for_update: bool) -> Any:
        """The row with ``row_id``, locked for the rest of the transaction when ``for_update``."""
        stmt = select(model).where(model.id == row_id)
        return self.session.scalars(stmt.with_for_update() if for_update else stmt).first()



def _rated(today: date) -> Any:
    """SQL for ``domain.household_rated``: the household's confirmed rating is still in force."""
    return and_(Household.rating_id.is_not(None), Household.rated_until > today)


def bulk_update(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Update rows by ``id`` with Core executemany (see ``app.db.bulk_insert``); every row sets the same keys."""
    if rows:
        table = model.__table__
        session.execute(update(table).where(table.c.id == bindparam("_id")),
                        [{**{k: v for k, v in row.items() if k != "id"}, "_id": row["id"]} for row in rows])


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))
