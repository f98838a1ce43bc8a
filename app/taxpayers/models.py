"""Taxpayers and their grade history.

``taxpayers`` carries the current grade denormalised (``grade``, ``state``, ``grade_year``,
``grade_changed_at``) so the hot path reads one row; ``grade_records`` keeps every record
ever made, and the current columns always equal the latest effective record.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, ImportRunColumns, UtcDateTime, utcnow


class Taxpayer(Base):
    __tablename__ = "taxpayers"

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str | None] = mapped_column(String(12), index=True)
    industry_code: Mapped[str | None] = mapped_column(String(8), index=True)
    registered_on: Mapped[date | None]
    size_class: Mapped[str | None] = mapped_column(String(8))
    grade: Mapped[str | None] = mapped_column(String(1))
    state: Mapped[str] = mapped_column(String(16), default="unrated")
    score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    grade_year: Mapped[int | None]
    grade_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    #: The grade import that last created or changed this row, its grade or its profile (region,
    #: industry, size…): what that import's push re-match fans out to.
    changed_by_import_id: Mapped[int | None] = mapped_column(ForeignKey("grade_imports.id"), index=True)
    #: Raised by one, in SQL, by every write of what the status cache holds (grade, state, name…),
    #: so versions follow commit order; the cache keeps the highest it was given (``StatusCache``).
    status_version: Mapped[int] = mapped_column(default=1, server_default="1")


class GradeImport(ImportRunColumns, Base):
    """One run of the bulk loader, with its report."""

    __tablename__ = "grade_imports"


class GradeRecord(Base):
    """One published grade (or state change) for one taxpayer. Never updated or deleted."""

    __tablename__ = "grade_records"
    __table_args__ = (Index("ix_grade_records_uscc_effective", "uscc", "effective_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(ForeignKey("taxpayers.uscc"))
    year: Mapped[int]
    grade: Mapped[str | None] = mapped_column(String(1))
    state: Mapped[str] = mapped_column(String(16))
    score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16))  # import | manual | seed
    import_id: Mapped[int | None] = mapped_column(ForeignKey("grade_imports.id"), index=True)
    changed_by: Mapped[str] = mapped_column(String(64))
    effective_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
