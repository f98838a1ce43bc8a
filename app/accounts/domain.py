"""Roles and the authenticated principal."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(str, enum.Enum):
    TAXPAYER = "taxpayer"  # bound to one USCC
    CLERK = "clerk"  # bound to one bank
    OFFICER = "officer"  # bound to a bank and a county (rural credit)
    TAX_ADMIN = "tax_admin"  # tax-bureau staff
    RURAL_ADMIN = "rural_admin"  # manages rural-credit places and scorecards; optionally bound to a county


@dataclass(frozen=True)
class Principal:
    """Who is calling, as carried by the access token (no database read per request)."""

    user_id: int
    username: str
    role: Role
    uscc: str | None = None
    bank_id: int | None = None
    county_code: str | None = None

    def to_claims(self) -> dict[str, object]:
        return {
            "sub": str(self.user_id),
            "usr": self.username,
            "role": self.role.value,
            "uscc": self.uscc,
            "bank": self.bank_id,
            "county": self.county_code,
        }

    @classmethod
    def from_claims(cls, claims: dict[str, object]) -> "Principal":
        bank = claims.get("bank")
        return cls(
            user_id=int(str(claims["sub"])),
            username=str(claims["usr"]),
            role=Role(claims["role"]),
            uscc=claims.get("uscc") or None,  # type: ignore[arg-type]
            bank_id=int(bank) if bank is not None else None,  # type: ignore[arg-type]
            county_code=claims.get("county") or None,  # type: ignore[arg-type]
        )


def binding_error(role: Role, *, uscc: str | None, bank_code: str | None, county_code: str | None) -> str | None:
    """Why an account of ``role`` cannot be created with these bindings, or None."""
    if role is Role.TAXPAYER and not uscc:
        return "a taxpayer account must be bound to a USCC (--uscc)"
    if role is Role.CLERK and not bank_code:
        return "a clerk account must be bound to a bank (--bank)"
    if role is Role.OFFICER and not (bank_code and county_code):
        return "an officer account must be bound to a bank and a county (--bank, --county)"
    if role is Role.RURAL_ADMIN and bank_code:
        return "a rural admin account is not bound to a bank (--county is optional)"
    if role is not Role.TAXPAYER and uscc:
        return "only taxpayer accounts carry a USCC"
    return None
