"""Signing keys and the verification audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, utcnow


class SigningKey(Base):
    """An Ed25519 key pair; the private half is encrypted with a key derived from the secret."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Verification(Base):
    """One scan at a counter. Append-only: the API offers no update or delete."""

    __tablename__ = "verifications"
    __table_args__ = (
        Index("ix_verifications_bank_at", "bank_id", "verified_at"),
        Index("ix_verifications_uscc_at", "uscc", "verified_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clerk_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    clerk_username: Mapped[str] = mapped_column(String(64))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    # Not a foreign key: a forged token may name a USCC that does not exist.
    uscc: Mapped[str | None] = mapped_column(String(18))
    jti: Mapped[str | None] = mapped_column(String(64))
    valid: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(32))
    grade: Mapped[str | None] = mapped_column(String(1))
    color: Mapped[str | None] = mapped_column(String(8))
    state: Mapped[str | None] = mapped_column(String(16))
    verified_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
