"""Password hashing (argon2id) and access tokens (HS256 JWT signed with the app secret)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.accounts.domain import Principal

ACCESS_AUDIENCE = "shuima-api"


class Passwords:
    """Slow, salted hashing; the cost comes from the settings so tests can run fast."""

    def __init__(self, *, time_cost: int, memory_cost: int):
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)
        # Verified against when the username is unknown, so both paths cost the same.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False


class AccessTokens:
    """Issues and reads the bearer tokens of the API."""

    def __init__(self, *, secret: str, ttl: timedelta, issuer: str):
        self._secret = secret
        self.ttl = ttl
        self._issuer = issuer

    def issue(self, principal: Principal, *, now: datetime) -> str:
        claims = principal.to_claims() | {
            "iss": self._issuer,
            "aud": ACCESS_AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()),
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def read(self, token: str, *, now: datetime) -> Principal:
        """Return the principal, or raise ``jwt.InvalidTokenError`` (expiry judged at ``now``)."""
        claims = jwt.decode(
            token, self._secret, algorithms=["HS256"], audience=ACCESS_AUDIENCE, issuer=self._issuer,
            options={"require": ["exp", "sub", "role"], "verify_exp": False, "verify_iat": False},
        )
        if not isinstance(claims["exp"], int) or claims["exp"] <= now.timestamp():
            raise jwt.ExpiredSignatureError("access token expired")
        return Principal.from_claims(claims)
