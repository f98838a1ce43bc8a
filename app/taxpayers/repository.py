"""Queries over taxpayers and grade records."""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.taxpayers.domain import Grade, GradeStatus, State
from app.taxpayers.models import GradeRecord, Taxpayer


def status_of(row: Taxpayer) -> GradeStatus:
    return GradeStatus(
        uscc=row.uscc,
        name=row.name,
        grade=Grade(row.grade) if row.grade else None,
        state=State(row.state),
        year=row.grade_year,
        changed_at=row.grade_changed_at,
        version=row.status_version,
    )


class SqlAlchemyTaxpayerRepository:
    def __init__(self, session: Session):
        self.session = session

    def get(self, uscc: str, *, for_update: bool = False) -> Taxpayer | None:
        stmt = select(Taxpayer).where(Taxpayer.uscc == uscc)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def add(self, taxpayer: Taxpayer) -> None:
        self.session.add(taxpayer)

    def add_record(self, record: GradeRecord) -> None:
        self.session.add(record)

    def history(self, uscc: str, *, limit: int = 50) -> list[GradeRecord]:
        stmt = (
            select(GradeRecord)
            .where(GradeRecord.uscc == uscc)
            .order_by(GradeRecord.effective_at.desc(), GradeRecord.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def iter_current(self, *, batch: int = 20000) -> Iterator[tuple]:
        """Every taxpayer's fields the importer compares, streamed in batches."""
        stmt = select(
            Taxpayer.uscc, Taxpayer.name, Taxpayer.region_code, Taxpayer.industry_code,
            Taxpayer.registered_on, Taxpayer.size_class, Taxpayer.grade, Taxpayer.state,
            Taxpayer.score, Taxpayer.grade_year,
        ).execution_options(yield_per=batch)
        yield from self.session.execute(stmt)
