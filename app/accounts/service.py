"""Use cases on accounts: log in, renew an access token, sign out, create a user, deactivate and reactivate one."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import jwt

from app.accounts.domain import Principal, Role, binding_error
from app.accounts.models import Bank, RefreshSession, User
from app.accounts.repository import SqlAlchemyAccountRepository
from app.accounts.security import AccessTokens, Passwords, RefreshClaims, Revocations
from app.clock import Clock
from app.db import UnitOfWork
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited, Unauthenticated
from app.ratelimit import RateLimiter
from app.rural.domain import PlaceLevel, place_code_error
from app.taxpayers.domain import UsccError, normalize_uscc
from app.taxpayers.models import Taxpayer


@dataclass(frozen=True)
class LoginLimits:
    per_user: str
    per_address: str


@dataclass(frozen=True)
class Grant:
    """What a log-in gives: an access token and the refresh token that renews it."""

    access_token: str
    refresh_token: str


def log_in(username: str, password: str, *, address: str, uow: UnitOfWork, passwords: Passwords,
           tokens: AccessTokens, limiter: RateLimiter, limits: LoginLimits, clock: Clock) -> Grant:
    """Return an access token and a refresh token. Failed attempts are throttled per username and per address.

    An attempt is counted against its username *before* the password is checked (one atomic
    ``INCR``) and the count is cleared when it succeeds: parallel guesses each take a place, so a
    burst sent at once cannot get more than the limit checked (testing first and counting after
    the ~0.1 s hash let every attempt of a burst through). Failures alone count per address, so
    an office behind one address is never locked out by its own successful log-ins.

    Raises ``Unauthenticated`` for a wrong username or password (one message for both),
    ``Forbidden`` for the right password of a deactivated account and ``RateLimited`` once too
    many attempts have failed.
    """
    user_key, address_key = ("login-user", username.lower()), ("login-addr", address)
    for admitted, limit, key in ((limiter.test, limits.per_address, address_key),
                                 (limiter.hit, limits.per_user, user_key)):  # in this order: hit counts
        if not admitted(limit, *key):
            raise RateLimited("too many failed log-in attempts; try again later",
                              retry_after=limiter.retry_after(limit, *key))
    with uow:
        user = SqlAlchemyAccountRepository(uow.session).user_by_username(username)
        ok = passwords.verify(user.password_hash if user else None, password)
        if not ok or user is None:
            limiter.hit(limits.per_address, *address_key)
            raise Unauthenticated("wrong username or password")
        if not user.active:  # told only to someone who knows the password
            raise Forbidden("this account is deactivated; ask your administrator")
        principal = _principal(user)
        version = user.token_version  # as read before the hash: a deactivation meanwhile raised it
        limiter.reset(limits.per_user, *user_key)  # the password was right, whatever happens next
        now = clock.now()
        repo = SqlAlchemyAccountRepository(uow.session)
        repo.forget_sessions(user.id, begun_before=now - tokens.refresh_ttl,
                             ended_before=now - tokens.ttl - Revocations.MARGIN)
        session = RefreshSession(jti=secrets.token_urlsafe(16), user_id=user.id, created_at=now)
        repo.add(session)
        uow.commit()
    return Grant(tokens.issue(principal, now=now, version=version, session=session.jti),
                 tokens.issue_refresh(principal, version=version, session=session.jti, now=now))


def refresh(refresh_token: str, *, uow: UnitOfWork, tokens: AccessTokens, clock: Clock) -> str:
    """A new access token for the account a refresh token names, with its role and bindings as they
    are now. Reads the account and the log-in: a deactivated account, one whose token version moved
    past the refresh token's, or a device that signed out, is refused at once. Raises
    ``Unauthenticated`` (log in again)."""
    now = clock.now()
    try:
        claims = tokens.read_refresh(refresh_token, now=now)
    except jwt.InvalidTokenError:
        raise Unauthenticated("invalid or expired refresh token; log in again") from None
    with uow:
        user, session = _live_session(SqlAlchemyAccountRepository(uow.session), claims)
        if user is None or session is None or not user.active:
            raise Unauthenticated("this refresh token is no longer valid; log in again")
        principal, version = _principal(user), user.token_version
    return tokens.issue(principal, now=now, version=version, session=session.jti)


def sign_out(refresh_token: str, *, everywhere: bool, uow: UnitOfWork, tokens: AccessTokens, clock: Clock) -> None:
    """End the log-in a refresh token belongs to: its refresh token is refused from now on, and its
    access tokens within ``REVOCATION_REFRESH_SECONDS``. ``everywhere``: end every log-in of the account —
    its token version is raised, so every refresh token is refused at once and every access token
    within ``REVOCATION_REFRESH_SECONDS``. A token that names no live log-in changes nothing and
    is not told apart (as RFC 7009 §2.2 answers invalid tokens): signing out twice is not an error.
    Raises ``InvalidInput`` for an access token sent in place of the refresh token (a client that
    would otherwise believe it had signed out)."""
    now = clock.now()
    try:
        claims = tokens.read_refresh(refresh_token, now=now)
    except jwt.InvalidTokenError:
        if tokens.is_access_token(refresh_token):
            raise InvalidInput.field("refresh_token", "is an access token; send the refresh token") from None
        return
    with uow:
        repo = SqlAlchemyAccountRepository(uow.session)
        user, session = _live_session(repo, claims)
        if user is None or session is None:
            return
        if everywhere:
            _revoke_tokens(repo, user, now)
        else:
            session.ended_at = now
        uow.commit()


def _revoke_tokens(repo: SqlAlchemyAccountRepository, user: User, now: datetime) -> None:
    """End every log-in of ``user``: its sessions, and every token of its version so far (``Revocations``)."""
    user.token_version = User.token_version + 1  # in SQL: two raises at once make two
    user.tokens_revoked_at = now
    repo.end_sessions(user.id, at=now)


def _live_session(repo: SqlAlchemyAccountRepository,
                  claims: RefreshClaims) -> tuple[User | None, RefreshSession | None]:
    """The account and the log-in a refresh token names, each None unless it still speaks for them."""
    user = repo.user(claims.user_id)
    if user is None or user.username != claims.username or claims.version < user.token_version:
        return None, None
    session = repo.refresh_session(claims.session)
    if session is None or session.user_id != user.id or session.ended_at is not None:
        return user, None
    return user, session


def _principal(user: User) -> Principal:
    return Principal(user.id, user.username, Role(user.role), user.uscc, user.bank_id, user.county_code)


def create_user(username: str, password: str, *, role: Role, uscc: str | None = None, bank_code: str | None = None,
                bank_name: str | None = None, county_code: str | None = None, uow: UnitOfWork,
                passwords: Passwords) -> User:
    """Create an account bound as its role requires; an unknown bank code creates the bank.

    Raises ``InvalidInput`` for a bad binding (a county code must be a 6-digit county code; the
    county need not be filed yet), a bad USCC or a weak password, ``NotFound`` for an unknown
    taxpayer and ``Conflict`` for a taken username.
    """
    problem = binding_error(role, uscc=uscc, bank_code=bank_code, county_code=county_code)
    if problem:
        raise InvalidInput.field("role", problem)
    if len(password) < 8:
        raise InvalidInput.field("password", "must be at least 8 characters")
    if uscc:
        try:
            uscc = normalize_uscc(uscc)
        except UsccError as exc:
            raise InvalidInput.field("uscc", str(exc)) from exc
    if county_code is not None and (county_problem := place_code_error(PlaceLevel.COUNTY, county_code, None)):
        raise InvalidInput.field("county", county_problem[1])  # a typo would bind the account to no county's data
    with uow:
        repo = SqlAlchemyAccountRepository(uow.session)
        if repo.user_by_username(username):
            raise Conflict(f"username {username!r} is taken", errors={"username": ["is taken"]})
        if uscc and uow.session.get(Taxpayer, uscc) is None:
            raise NotFound(f"no taxpayer with USCC {uscc}", errors={"uscc": ["unknown taxpayer"]})
        bank = None
        if bank_code:
            bank = repo.bank_by_code(bank_code)
            if bank is None:
                bank = Bank(code=bank_code, name=bank_name or bank_code)
                repo.add(bank)
        user = User(username=username, password_hash=passwords.hash(password), role=role.value, uscc=uscc,
                    bank=bank, county_code=county_code)
        repo.add(user)
        uow.commit()
        return user


def set_active(username: str, active: bool, *, uow: UnitOfWork, clock: Clock) -> tuple[User, bool]:
    """Deactivate or reactivate an account (a clerk who left the bank, an officer moved elsewhere);
    returns the account and whether it changed.

    Deactivating refuses the account's log-ins at once and, by raising its ``token_version``, the
    access tokens it holds within ``REVOCATION_REFRESH_SECONDS`` on every process
    (``Revocations``); ``deactivated_at`` records when. Reactivating admits log-ins again; tokens
    issued before the deactivation stay refused. Either, asked for a second time, changes nothing.
    Raises ``NotFound`` for an unknown username.
    """
    with uow:
        user = SqlAlchemyAccountRepository(uow.session).user_by_username(username)
        if user is None:
            raise NotFound(f"no user {username!r}", errors={"username": ["unknown user"]})
        if user.active == active:
            return user, False
        user.active = active
        if not active:
            user.deactivated_at = clock.now()
            _revoke_tokens(SqlAlchemyAccountRepository(uow.session), user, user.deactivated_at)
        uow.commit()
        return user, True
