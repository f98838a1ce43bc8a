"""Use cases on taxpayers and their grades."""

from __future__ import annotations

from decimal import Decimal

from app.clock import Clock
from app.db import UnitOfWork
from app.errors import InvalidInput, NotFound
from app.taxpayers.cache import StatusCache
from app.taxpayers.domain import Grade, GradeChanged, GradeRuleError, GradeStatus, State, check_grade_record
from app.taxpayers.models import GradeRecord, Taxpayer
from app.taxpayers.repository import SqlAlchemyTaxpayerRepository, status_of


def current_status(uscc: str, *, uow: UnitOfWork, cache: StatusCache) -> GradeStatus | None:
    """The taxpayer's current status: from the cache, else from the database (then cached)."""
    status = cache.get(uscc)
    if status is not None:
        return status
    with uow:
        row = SqlAlchemyTaxpayerRepository(uow.session).get(uscc)
        if row is None:
            return None
        status = status_of(row)
    cache.fill(status)
    return status


def change_grade(
    uscc: str,
    *,
    grade: Grade | None,
    state: State,
    score: Decimal | None,
    year: int,
    reason: str,
    changed_by: str,
    uow: UnitOfWork,
    cache: StatusCache,
    clock: Clock,
) -> GradeStatus:
    """Record a grade change during the year and make it current at once.

    Raises ``NotFound`` for an unknown USCC and ``InvalidInput`` for a combination that
    breaks the grade rules. Publishes ``GradeChanged`` after the commit.
    """
    now = clock.now()
    try:
        check_grade_record(grade, state, score, year, today=now.date())
    except GradeRuleError as exc:
        raise InvalidInput.field(exc.field, exc.reason) from exc
    with uow:
        repo = SqlAlchemyTaxpayerRepository(uow.session)
        row = repo.get(uscc, for_update=True)
        if row is None:
            raise NotFound(f"no taxpayer with USCC {uscc}")
        old_grade, old_state = row.grade, row.state
        repo.add_record(GradeRecord(
            uscc=uscc, year=year, grade=grade.value if grade else None, state=state.value, score=score,
            reason=reason, source="manual", changed_by=changed_by, effective_at=now,
        ))
        row.grade = grade.value if grade else None
        row.state = state.value
        row.score = score
        row.grade_year = year
        row.grade_changed_at = now
        row.status_version = Taxpayer.status_version + 1  # in SQL: concurrent writers each get their own
        uow.session.flush()  # the UPDATE holds the row now; reading the version back is exact
        status = status_of(row)
        uow.collect(GradeChanged(
            uscc=uscc, old_grade=old_grade, old_state=old_state, new_grade=row.grade, new_state=row.state,
            year=year, reason=reason, changed_by=changed_by, changed_at=now,
        ))
        uow.commit()
    cache.put(status)
    return status


def taxpayer_with_history(uscc: str, *, uow: UnitOfWork) -> tuple[Taxpayer, list[GradeRecord]]:
    """The taxpayer and its grade history, newest first. Raises ``NotFound``."""
    with uow:
        repo = SqlAlchemyTaxpayerRepository(uow.session)
        row = repo.get(uscc)
        if row is None:
            raise NotFound(f"no taxpayer with USCC {uscc}")
        return row, repo.history(uscc)
