"""Password hashing (argon2id) and access tokens (HS256 JWT signed with the app secret)."""

from __future__ import annotations

import functools
import secrets
import threading
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

    @functools.cached_property
    def _dummy(self) -> str:
        """Verified against when the username is unknown, so both paths cost the same.

        Made on first use: one argon2 run (≈0.1 s at production cost) is not start-up work
        for every web process and CLI command."""
        return self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        # The dummy is read (and, the first time, made) for known users too: otherwise the first
        # unknown name a process sees would pay two hashes, a timing difference that tells names apart.
        dummy = self._dummy
        try:
            return self._hasher.verify(password_hash or dummy, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False


class AccessTokens:
    """Issues and reads the bearer tokens of the API.

    ``read`` keeps the principals of recently verified tokens, keyed by the exact token
    string: the same bytes under the same secret always verify the same way, so a repeat
    costs a dict lookup instead of an HS256 check and a claims walk (a third of a warm code
    fetch's CPU). Expiry is still judged against ``now`` on every call.
    """

    def __init__(self, *, secret: str, ttl: timedelta, issuer: str, cache_size: int = 8192):
        self._secret = secret
        self.ttl = ttl
        self._issuer = issuer
        self._cache_size = cache_size
        self._verified: dict[str, tuple[Principal, int]] = {}
        self._lock = threading.Lock()

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
        hit = self._verified.get(token)
        if hit is None:
            hit = self._verify(token)
            self._remember(token, hit)
        principal, exp = hit
        if exp <= now.timestamp():
            raise jwt.ExpiredSignatureError("access token expired")
        return principal

    def _verify(self, token: str) -> tuple[Principal, int]:
        claims = jwt.decode(
            token, self._secret, algorithms=["HS256"], audience=ACCESS_AUDIENCE, issuer=self._issuer,
            options={"require": ["exp", "sub", "role"], "verify_exp": False, "verify_iat": False},
        )
        if not isinstance(claims["exp"], int):
            raise jwt.InvalidTokenError("exp is not an integer")
        return Principal.from_claims(claims), claims["exp"]

    def _remember(self, token: str, entry: tuple[Principal, int]) -> None:
        # Oldest-first eviction (dicts keep insertion order): an hour-long token seen once
        # leaves after cache_size newer ones; no LRU bookkeeping on the hot read.
        with self._lock:
            if len(self._verified) >= self._cache_size:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = entry
