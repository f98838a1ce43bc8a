"""Queries over users and banks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Bank, RefreshSession, User


class SqlAlchemyAccountRepository:
    def __init__(self, session: Session):
        self.session = session

    def user(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def user_by_username(self, username: str) -> User | None:
        return self.session.scalars(select(User).where(User.username == username)).first()

    def recently_revoked(self, *, since: datetime) -> dict[int, int]:
        """The accounts whose token version was raised after ``since``, each with its version now."""
        return {user_id: version for user_id, version in self.session.execute(
            select(User.id, User.token_version).where(User.tokens_revoked_at > since))}

    def refresh_session(self, jti: str) -> RefreshSession | None:
        return self.session.get(RefreshSession, jti)

    def bank_by_code(self, code: str) -> Bank | None:
        return self.session.scalars(select(Bank).where(Bank.code == code)).first()

    def add(self, obj: User | Bank | RefreshSession) -> None:
        self.session.add(obj)
