"""The app's long-lived collaborators, wired explicitly in ``create_app``.

Views and CLI commands reach them with ``services()``; tests pass their own clock to
``create_app`` instead of patching modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from flask import Flask, current_app

from app.accounts.security import AccessTokens, Passwords, Revocations
from app.accounts.service import LoginLimits
from app.clock import Clock, SystemClock
from app.codes.audit import SqlAlchemyVerificationAudit, VerificationAudit
from app.codes.cache import CodeCache
from app.codes.domain import PrivilegeCatalogue
from app.codes.keys import Keyring
from app.codes.service import CodeSettings
from app.codes.subjects import SubjectSeal
from app.db import UnitOfWork
from app.events import bus
from app.extensions import db, redis_store
from app.ratelimit import RateLimiter
from app.taxpayers.cache import StatusCache


@dataclass
class Services:
    clock: Clock
    passwords: Passwords
    tokens: AccessTokens
    limiter: RateLimiter
    login_limits: LoginLimits
    keyring: Keyring
    subjects: SubjectSeal
    status_cache: StatusCache
    codes: CodeCache
    privileges: PrivilegeCatalogue
    code_settings: CodeSettings
    render_badge: Callable[..., bytes]
    audit: VerificationAudit
    import_chunk_rows: int

    def uow(self) -> UnitOfWork:
        return UnitOfWork(db.session, bus=bus)


def build_services(app: Flask, *, clock: Clock | None = None) -> Services:
    """Wire the collaborators from the app's settings; ``clock`` defaults to the system clock."""
    from app.codes.badge import render_badge

    cfg = app.config
    clock = clock or SystemClock()
    ttl = timedelta(seconds=cfg["CODE_TTL_SECONDS"])
    leeway = timedelta(seconds=cfg["CODE_LEEWAY_SECONDS"])
    access_ttl = timedelta(seconds=cfg["ACCESS_TOKEN_TTL_SECONDS"])
    services = Services(
        clock=clock,
        passwords=Passwords(time_cost=cfg["PASSWORD_TIME_COST"], memory_cost=cfg["PASSWORD_MEMORY_COST"]),
        tokens=AccessTokens(secret=cfg["SECRET_KEY"], ttl=access_ttl, issuer=cfg["ISSUER"],
                            refresh_ttl=timedelta(seconds=cfg["REFRESH_TOKEN_TTL_SECONDS"]),
                            revocations=Revocations(session_factory=db.session, clock=clock, ttl=access_ttl,
                                                    refresh=timedelta(seconds=cfg["REVOCATION_REFRESH_SECONDS"]))),
        limiter=RateLimiter(redis_store.client),
        login_limits=LoginLimits(cfg["LOGIN_FAILURES_PER_USER"], cfg["LOGIN_FAILURES_PER_ADDRESS"]),
        keyring=Keyring(session_factory=db.session, secret=cfg["SECRET_KEY"], clock=clock,
                        token_ttl=ttl, leeway=leeway, refresh_seconds=cfg["KEYRING_REFRESH_SECONDS"]),
        status_cache=StatusCache(redis_store.client, ttl_seconds=cfg["STATUS_CACHE_TTL_SECONDS"]),
        codes=CodeCache(redis_store.client),
        subjects=SubjectSeal(cfg["SECRET_KEY"]),
        privileges=PrivilegeCatalogue.load(cfg["PRIVILEGES_FILE"]),
        code_settings=CodeSettings(
            issuer=cfg["ISSUER"], ttl=ttl, refresh_margin=timedelta(seconds=cfg["CODE_REFRESH_MARGIN_SECONDS"]),
            leeway=leeway, verify_limit=cfg["VERIFY_RATE_LIMIT"],
        ),
        render_badge=render_badge,
        audit=SqlAlchemyVerificationAudit(db.engine),
        import_chunk_rows=cfg["IMPORT_CHUNK_ROWS"],
    )
    return services


def services() -> Services:
    """The current app's services."""
    return current_app.extensions["shuima.services"]
