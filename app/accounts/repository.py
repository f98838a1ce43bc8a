"""Queries over users and banks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Bank, User


class SqlAlchemyAccountRepository:
    def __init__(self, session: Session):
        self.session = session

    def user_by_username(self, username: str) -> User | None:
        return self.session.scalars(select(User).where(User.username == username)).first()

    def bank_by_code(self, code: str) -> Bank | None:
        return self.session.scalars(select(Bank).where(Bank.code == code)).first()

    def add(self, obj: User | Bank) -> None:
        self.session.add(obj)
