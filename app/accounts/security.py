"""Password hashing (argon2id), access tokens (HS256 JWT signed with the app secret) and their revocation."""

from __future__ import annotations

import functools
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.accounts.domain import Principal
from app.accounts.repository import SqlAlchemyAccountRepository
from app.clock import Clock

log = logging.getLogger(__name__)

ACCESS_AUDIENCE = "shuima-api"
#: A refresh token is never an access token, nor the other way round: each is read for its audience only.
REFRESH_AUDIENCE = "shuima-refresh"


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
    """The access tokens of deactivated or signed-out accounts and devices, refused before they expire.

    An access token is checked by its signature alone (no database read per request), so without
    this a deactivated account's tokens would work until they expire (``ACCESS_TOKEN_TTL_SECONDS``).
    Every token carries its account's ``token_version`` as it was when the log-in read the account
    (claim ``ver``); a deactivation, or a sign-out everywhere, raises the version. Each process
    keeps the versions of the accounts raised within the last token lifetime (and a margin for
    clocks that differ between hosts) — no older token can still be live — and reads them again
    every ``refresh`` (two small indexed queries), so a raise reaches every process on every host
    within that time, and a token of a lower version is refused. Versions, not times: a log-in that read the
    account just before the deactivation committed, a reactivation in the same second, clocks
    that differ between hosts change nothing. In the same read it keeps the log-ins (refresh
    sessions) that ended within that time: an access token names its log-in (claim ``sid``), so a
    device that signed out loses its access token too, not only its refresh token.

    While the database cannot be read the last list stays in force, and the read is tried again
    after ``refresh`` — or after ``retry`` while this process has never read it: until then it
    knows of no deactivation — and after twice as long for every further failure, up to
    ``MAX_BACKOFF``. The read happens in a request (as the keyring's does); a database that does
    not answer holds that one request for the driver's connect timeout, so an outage stalls a
    request now and then, ever more rarely, not one in every ``refresh``.
    """

    #: Deactivations kept beyond the token lifetime, for hosts whose clocks run ahead.
    MARGIN = timedelta(minutes=5)
    #: The longest wait between two reads while the database keeps failing.
    MAX_BACKOFF = timedelta(minutes=2)

    def __init__(self, *, session_factory: Callable[[], Session], clock: Clock, ttl: timedelta, refresh: timedelta,
                 retry: timedelta = timedelta(seconds=1)):
        self._session_factory = session_factory
        self._clock = clock
        self._window = ttl + self.MARGIN
        self._refresh = refresh
        self._retry = retry
        self._floors: dict[int, int] = {}
        self._ended: frozenset[str] = frozenset()
        self._loaded = False
        self._failures = 0
        self._next_read: datetime | None = None

    def refuses(self, user_id: int, version: int, session: str | None, *, now: datetime) -> bool:
        """Whether an access token of ``user_id`` at ``version``, of the log-in ``session``, is revoked
        (``now``: the request's time, which the token's expiry was judged at)."""
        if self._next_read is None or now >= self._next_read:
            self.reload()
        lowest = self._floors.get(user_id)
        return (lowest is not None and version < lowest) or (session is not None and session in self._ended)

    def reload(self) -> None:
        since = self._clock.now() - self._window
        try:
            with self._session_factory() as session:
                repo = SqlAlchemyAccountRepository(session)
                floors, ended = repo.recently_revoked(since=since), repo.recently_ended_sessions(since=since)
        except SQLAlchemyError:
            log.warning("could not read the accounts whose tokens were revoked; the last list stays in force",
                        exc_info=True)
            wait = (self._refresh if self._loaded else self._retry) * 2 ** self._failures
            self._failures += 1
            self._next_read = self._clock.now() + min(wait, self.MAX_BACKOFF)
            return
        self._floors, self._ended, self._loaded, self._failures = floors, frozenset(ended), True, 0
        self._next_read = self._clock.now() + self._refresh  # after the read: a slow one is not repeated at once


#: A row id as a refresh token's ``sub`` spells it: ASCII digits, no sign, no leading zero, at most 10 of them.
_ROW_ID = re.compile(r"[1-9][0-9]{0,9}")


@dataclass(frozen=True)
class RefreshClaims:
    """The account a refresh token names (its id and, against a reused id, its name), its token
    version and the log-in it belongs to (``RefreshSession.jti``)."""

    user_id: int
    username: str
    version: int
    session: str


class AccessTokens:
    """Issues and reads the bearer tokens of the API, and the refresh tokens that renew them.

    ``read`` keeps the principals of recently verified tokens, keyed by the exact token
    string: the same bytes under the same secret always verify the same way, so a repeat
    costs a dict lookup instead of an HS256 check and a claims walk (a third of a warm code
    fetch's CPU). Expiry and revocation (``Revocations``) are still judged on every call.

    A refresh token (``refresh_ttl``, 30 days by default) names the account, the token version its
    log-in read and that log-in (``RefreshSession``); the app trades it for a new access token
    (``app.accounts.service.refresh``) instead of asking for the password every hour, and that
    exchange reads the account and the session, so a deactivation or a sign-out refuses it at
    once. It is not rotated: it stays valid until it expires, its device signs out, or the
    account's version moves.
    """

    def __init__(self, *, secret: str, ttl: timedelta, issuer: str, refresh_ttl: timedelta = timedelta(days=30),
                 revocations: Revocations | None = None, cache_size: int = 8192):
        self._secret = secret
        self.ttl = ttl
        self.refresh_ttl = refresh_ttl
        self._issuer = issuer
        self._revocations = revocations
        self._cache_size = cache_size
        self._verified: dict[str, tuple[Principal, int, int, str | None]] = {}
        self._lock = threading.Lock()

    def issue(self, principal: Principal, *, now: datetime, version: int = 0, session: str | None = None) -> str:
        """A token for ``principal``; ``version``: the account's ``token_version`` when the log-in read it;
        ``session``: the log-in (``RefreshSession.jti``) it belongs to."""
        claims = principal.to_claims() | {
            "iss": self._issuer,
            "aud": ACCESS_AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()),
            "ver": version,
        }
        if session is not None:
            claims["sid"] = session
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def issue_refresh(self, principal: Principal, *, version: int, session: str, now: datetime) -> str:
        """A refresh token for ``principal``'s account at token version ``version``, of the log-in ``session``."""
        return jwt.encode({"sub": str(principal.user_id), "usr": principal.username, "ver": version,
                           "jti": session, "iss": self._issuer, "aud": REFRESH_AUDIENCE,
                           "iat": int(now.timestamp()), "exp": int((now + self.refresh_ttl).timestamp())},
                          self._secret, algorithm="HS256")

    def read_refresh(self, token: str, *, now: datetime) -> RefreshClaims:
        """What a refresh token names; raises ``jwt.InvalidTokenError`` (also when expired at ``now``)."""
        claims = jwt.decode(token, self._secret, algorithms=["HS256"], audience=REFRESH_AUDIENCE, issuer=self._issuer,
                            options={"require": ["exp", "sub", "usr", "ver", "jti"], "verify_exp": False,
                                     "verify_iat": False})
        exp, version, sub, username, jti = claims["exp"], claims["ver"], claims["sub"], claims["usr"], claims["jti"]
        if (type(exp) is not int or type(version) is not int or not isinstance(username, str)  # bool is an int
                or not isinstance(sub, str) or not _ROW_ID.fullmatch(sub)
                or not isinstance(jti, str) or not 0 < len(jti) <= 32):
            raise jwt.InvalidTokenError("exp, ver, usr, sub or jti of the wrong type")
        if exp <= now.timestamp():
            raise jwt.ExpiredSignatureError("refresh token expired")
        return RefreshClaims(int(sub), username, version, jti)

    def is_access_token(self, token: str) -> bool:
        """Whether ``token`` is one of our access tokens, expired or not (to name a token sent to the wrong place)."""
        try:
            self._verify(token)
        except (jwt.InvalidTokenError, KeyError, ValueError):  # what read_bearer also answers 401 for
            return False
        return True

    def read(self, token: str, *, now: datetime) -> Principal:
        """Return the principal, or raise ``jwt.InvalidTokenError`` (expired at ``now``, or revoked)."""
        hit = self._verified.get(token)
        if hit is None:
            hit = self._verify(token)
            self._remember(token, hit)
        principal, exp, version, session = hit
        if exp <= now.timestamp():
            raise jwt.ExpiredSignatureError("access token expired")
        revocations = self._revocations
        if revocations is not None and revocations.refuses(principal.user_id, version, session, now=now):
            raise jwt.InvalidTokenError("access token revoked")
        return principal

    def _verify(self, token: str) -> tuple[Principal, int, int, str | None]:
        claims = jwt.decode(
            token, self._secret, algorithms=["HS256"], audience=ACCESS_AUDIENCE, issuer=self._issuer,
            options={"require": ["exp", "sub", "role"], "verify_exp": False, "verify_iat": False},
        )
        version = claims.get("ver", 0)  # tokens issued before versions existed: the version every account began at
        session = claims.get("sid")
        if type(claims["exp"]) is not int or type(version) is not int or not isinstance(session, (str, type(None))):
            raise jwt.InvalidTokenError("exp, ver or sid of the wrong type")
        return Principal.from_claims(claims), claims["exp"], version, session

    def _remember(self, token: str, entry: tuple[Principal, int, int, str | None]) -> None:
        # Oldest-first eviction (dicts keep insertion order): an hour-long token seen once
        # leaves after cache_size newer ones; no LRU bookkeeping on the hot read.
        with self._lock:
            if len(self._verified) >= self._cache_size:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = entry
