"""Queries over users and banks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, or_, select, update
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

    def end_sessions(self, user_id: int, *, at: datetime) -> None:
        """End every live log-in of the account."""
        self.session.execute(update(RefreshSession).where(RefreshSession.user_id == user_id,
                                                          RefreshSession.ended_at.is_(None)).values(ended_at=at))

    def recently_ended_sessions(self, *, since: datetime) -> set[str]:
        """The log-ins that ended after ``since``."""
        return set(self.session.scalars(select(RefreshSession.jti).where(RefreshSession.ended_at > since)))

    def forget_sessions(self, user_id: int, *, begun_before: datetime, ended_before: datetime) -> None:
        """Delete the account's log-ins that matter no more: begun before ``begun_before`` (their
        refresh tokens have expired), or ended before ``ended_before`` (no access token of theirs can
        still be live). Each log-in tidies its own account's rows."""
        self.session.execute(delete(RefreshSession).where(
            RefreshSession.user_id == user_id,
            or_(RefreshSession.ended_at < ended_before,  # ended lately: kept, whenever it began
                and_(RefreshSession.ended_at.is_(None), RefreshSession.created_at < begun_before))))

    def bank_by_code(self, code: str) -> Bank | None:
        return self.session.scalars(select(Bank).where(Bank.code == code)).first()

    def add(self, obj: User | Bank | RefreshSession) -> None:
        self.session.add(obj)
