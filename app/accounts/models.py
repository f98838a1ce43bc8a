"""Banks and user accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UtcDateTime, utcnow


class Bank(Base):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    uscc: Mapped[str | None] = mapped_column(ForeignKey("taxpayers.uscc"), index=True)
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("banks.id"), index=True)
    county_code: Mapped[str | None] = mapped_column(String(12))
    active: Mapped[bool] = mapped_column(default=True)
    #: Raised by a deactivation or a sign-out everywhere; tokens carry the version their log-in
    #: read, and a lower one than the account's is refused (``app.accounts.security.Revocations``).
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    #: When the version was last raised: the accounts raised lately are those whose access tokens are checked.
    tokens_revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    #: When the account was last deactivated.
    deactivated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    bank: Mapped[Bank | None] = relationship(lazy="joined")


class RefreshSession(Base):
    """One log-in of one device: its refresh token names it (``jti``), and signing out ends it."""

    __tablename__ = "refresh_sessions"

    jti: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
