"""Rural credit tables: places, households, scorecard versions, ratings and their objections,
loans and import runs.

``rural_households`` carries its current confirmed rating denormalised (``rating_id``,
``grade``, ``score``, ``limit_amount``, ``rated_until``) so lists, filters and the village
figures read one row per household; ``rural_ratings`` keeps every rating ever proposed.
Every row carries its ``county_code``: ownership checks and county-wide aggregates filter on it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, ImportRunColumns, UtcDateTime, utcnow

Money = Numeric(14, 2)


class Place(Base):
    """A county, township or village, keyed by its statistical division code."""

    __tablename__ = "rural_places"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    level: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(100))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("rural_places.code"), index=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Household(Base):
    __tablename__ = "rural_households"
    __table_args__ = (Index("ix_rural_households_county_village", "county_code", "village_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    village_code: Mapped[str] = mapped_column(ForeignKey("rural_places.code"), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    head_name: Mapped[str] = mapped_column(String(64))
    members: Mapped[int]
    labourers: Mapped[int]
    years_resident: Mapped[int]
    health: Mapped[str] = mapped_column(String(16))
    education: Mapped[str] = mapped_column(String(16))
    land_area: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    housing: Mapped[str] = mapped_column(String(16))
    assets: Mapped[Decimal] = mapped_column(Money)
    annual_income: Mapped[Decimal] = mapped_column(Money)
    operating_income: Mapped[Decimal] = mapped_column(Money)
    debts: Mapped[Decimal] = mapped_column(Money)
    deposits: Mapped[Decimal] = mapped_column(Money)
    production_type: Mapped[str] = mapped_column(String(16))
    credit_record: Mapped[str] = mapped_column(String(8))
    past_defaults: Mapped[int]
    debt_evasion: Mapped[bool]
    village_assessment: Mapped[str] = mapped_column(String(8))
    honours: Mapped[int] = mapped_column(default=0)
    bad_records: Mapped[str] = mapped_column(String(100), default="")  # sorted tags, comma-separated
    # the confirmed rating in force (denormalised from rural_ratings)
    rating_id: Mapped[int | None]
    grade: Mapped[str | None] = mapped_column(String(3))
    score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    limit_amount: Mapped[Decimal | None] = mapped_column(Money)
    rated_until: Mapped[date | None]
    filed_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Scorecard(Base):
    """One immutable version of a scorecard; ``county_code`` NULL = the default for every county."""

    __tablename__ = "rural_scorecards"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_rural_scorecards_name_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    county_code: Mapped[str | None] = mapped_column(String(6), index=True)
    body: Mapped[str] = mapped_column(Text)  # JSON text: numbers stay exact decimals
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Rating(Base):
    __tablename__ = "rural_ratings"
    __table_args__ = (
        Index("ix_rural_ratings_household_state", "household_id", "state"),
        Index("ix_rural_ratings_county_state", "county_code", "state"),
        # At most one rating in notice per household. ratings.py keeps the rule under the county lock;
        # the database refuses whatever slips past it (migration 0005 withdrew older duplicates).
        Index("uq_rural_ratings_household_in_notice", "household_id", unique=True,
              sqlite_where=text("state = 'proposed'"), postgresql_where=text("state = 'proposed'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("rural_households.id"))
    county_code: Mapped[str] = mapped_column(String(6))
    village_code: Mapped[str] = mapped_column(String(12), index=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("rural_scorecards.id"))
    state: Mapped[str] = mapped_column(String(12))
    score: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    grade: Mapped[str | None] = mapped_column(String(3))
    veto: Mapped[str | None] = mapped_column(String(32))
    items: Mapped[list] = mapped_column(JSON)  # [[key, value, points], ...]; reasons rebuilt from the scorecard
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    notice_ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)
    valid_until: Mapped[date | None]
    limit_amount: Mapped[Decimal | None] = mapped_column(Money)
    limit_terms: Mapped[list | None] = mapped_column(JSON)


class Objection(Base):
    """An objection raised during a rating's public notice."""

    __tablename__ = "rural_objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("rural_ratings.id"), index=True)
    raised_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    outcome: Mapped[str | None] = mapped_column(String(12))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Loan(Base):
    """A bank's loan to a household as last reported (amount, balance, days overdue)."""

    __tablename__ = "rural_loans"
    __table_args__ = (
        UniqueConstraint("bank_id", "loan_no", name="uq_rural_loans_bank_loan_no"),
        Index("ix_rural_loans_county_village", "county_code", "village_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    loan_no: Mapped[str] = mapped_column(String(64))
    household_id: Mapped[int] = mapped_column(ForeignKey("rural_households.id"), index=True)
    county_code: Mapped[str] = mapped_column(String(6))
    village_code: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal] = mapped_column(Money)
    balance: Mapped[Decimal] = mapped_column(Money)
    days_overdue: Mapped[int] = mapped_column(default=0)
    # as_of - days_overdue when overdue: lets "new NPL this year" be a plain date comparison
    overdue_since: Mapped[date | None]
    issued_on: Mapped[date]
    as_of: Mapped[date]
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class RuralImport(ImportRunColumns, Base):
    """One run of a households or loans CSV import, with its report."""

    __tablename__ = "rural_imports"

    kind: Mapped[str] = mapped_column(String(16))  # households | loans
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
