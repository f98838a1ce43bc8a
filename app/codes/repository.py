"""Queries over the verification audit trail."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import Bank
from app.codes.models import Verification


class SqlAlchemyVerificationRepository:
    def __init__(self, session: Session):
        self.session = session

    def for_bank(self, bank_id: int, *, offset: int, limit: int) -> tuple[list[Verification], int]:
        where = Verification.bank_id == bank_id
        rows = self.session.scalars(
            select(Verification).where(where).order_by(Verification.verified_at.desc(), Verification.id.desc())
            .offset(offset).limit(limit)
        )
        total = self.session.scalar(select(func.count()).select_from(Verification).where(where)) or 0
        return list(rows), total

    def for_taxpayer(self, uscc: str, *, offset: int, limit: int) -> tuple[list[tuple[Verification, Bank]], int]:
        where = Verification.uscc == uscc
        rows = self.session.execute(
            select(Verification, Bank).join(Bank, Bank.id == Verification.bank_id).where(where)
            .order_by(Verification.verified_at.desc(), Verification.id.desc()).offset(offset).limit(limit)
        )
        total = self.session.scalar(select(func.count()).select_from(Verification).where(where)) or 0
        return [tuple(r) for r in rows], total
