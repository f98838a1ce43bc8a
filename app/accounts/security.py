"""Password hashing (argon2id), access tokens (HS256 JWT signed with the app secret) and their revocation."""

from __future__ import annotations

import functools
import logging
import secrets
import threading
from datetime import datetime, timedelta
from typing import Callable

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.accounts.domain import Principal
from app.accounts.models import User

log = logging.getLogger(__name__)

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


class Revocations:
    """The access tokens of deactivated accounts, refused before they expire.

    An access token is checked by its signature alone (no database read per request), so without
    this a deactivated account's tokens would work until they expire (``ACCESS_TOKEN_TTL_SECONDS``).
    Each process keeps the accounts deactivated within the last token lifetime — no older token
    can still be live — and reads them again every ``refresh`` (one small indexed query), so a
    deactivation reaches every process on every host within that time. A token issued up to the
    second of the deactivation is refused; one issued after a reactivation is not. While the
    database cannot be read, the last list stays in force and the read is tried again after
    ``refresh``: requests that need no database (a warm code fetch) go on being answered.
    """

    def __init__(self, *, session_factory: Callable[[], Session], ttl: timedelta, refresh: timedelta):
        self._session_factory = session_factory
        self._ttl = ttl
        self._refresh = refresh
        self._cut_offs: dict[int, int] = {}
        self._loaded_at: datetime | None = None

    def cut_off(self, user_id: int, now: datetime) -> int | None:
        """The ``iat`` up to which ``user_id``'s tokens are refused (a Unix second), or None."""
        if self._loaded_at is None or now - self._loaded_at >= self._refresh:
            self.reload(now)
        return self._cut_offs.get(user_id)

    def reload(self, now: datetime) -> None:
        self._loaded_at = now  # first, so a failing read is not retried on every request
        try:
            with self._session_factory() as session:
                rows = session.execute(select(User.id, User.deactivated_at)
                                       .where(User.deactivated_at > now - self._ttl)).all()
        except SQLAlchemyError:
            log.warning("could not read deactivated accounts; the last list stays in force", exc_info=True)
            return
        self._cut_offs = {row.id: int(row.deactivated_at.timestamp()) for row in rows}


class AccessTokens:
    """Issues and reads the bearer tokens of the API.

    ``read`` keeps the principals of recently verified tokens, keyed by the exact token
    string: the same bytes under the same secret always verify the same way, so a repeat
    costs a dict lookup instead of an HS256 check and a claims walk (a third of a warm code
    fetch's CPU). Expiry and revocation (``Revocations``) are still judged on every call.
    """

    def __init__(self, *, secret: str, ttl: timedelta, issuer: str, revocations: Revocations | None = None,
                 cache_size: int = 8192):
        self._secret = secret
        self.ttl = ttl
        self._issuer = issuer
        self._revocations = revocations
        self._cache_size = cache_size
        self._verified: dict[str, tuple[Principal, int, int]] = {}
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
        """Return the principal, or raise ``jwt.InvalidTokenError`` (expired at ``now``, or revoked)."""
        hit = self._verified.get(token)
        if hit is None:
            hit = self._verify(token)
            self._remember(token, hit)
        principal, exp, iat = hit
        if exp <= now.timestamp():
            raise jwt.ExpiredSignatureError("access token expired")
        if self._revocations is not None:
            cut_off = self._revocations.cut_off(principal.user_id, now)
            if cut_off is not None and iat <= cut_off:
                raise jwt.InvalidTokenError("access token of a deactivated account")
        return principal

    def _verify(self, token: str) -> tuple[Principal, int, int]:
        claims = jwt.decode(
            token, self._secret, algorithms=["HS256"], audience=ACCESS_AUDIENCE, issuer=self._issuer,
            options={"require": ["exp", "iat", "sub", "role"], "verify_exp": False, "verify_iat": False},
        )
        if not isinstance(claims["exp"], int) or not isinstance(claims["iat"], int):
            raise jwt.InvalidTokenError("exp or iat is not an integer")
        return Principal.from_claims(claims), claims["exp"], claims["iat"]

    def _remember(self, token: str, entry: tuple[Principal, int, int]) -> None:
        # Oldest-first eviction (dicts keep insertion order): an hour-long token seen once
        # leaves after cache_size newer ones; no LRU bookkeeping on the hot read.
        with self._lock:
            if len(self._verified) >= self._cache_size:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = entry
