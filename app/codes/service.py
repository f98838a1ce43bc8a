"""Use cases of the color code: issue it, draw it, verify it at the counter, list the audit."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import jwt

from app.accounts.domain import Principal
from app.clock import Clock
from app.codes.audit import VerificationAudit
from app.codes.cache import CachedCode, CodeCache
from app.codes.domain import Color, PrivilegeCatalogue, Verdict, code_claims, color_for, judge_freshness
from app.codes.jws import ScannedToken
from app.codes.keys import Keyring
from app.codes.subjects import SubjectSeal
from app.db import UnitOfWork
from app.errors import NotFound, RateLimited
from app.ratelimit import RateLimiter
from app.taxpayers.cache import StatusCache, shown_fingerprint
from app.taxpayers.domain import GradeStatus, mask_company_name, mask_uscc
from app.taxpayers.service import current_status


@dataclass(frozen=True)
class CodeSettings:
    issuer: str
    ttl: timedelta
    refresh_margin: timedelta
    leeway: timedelta
    verify_limit: str


@dataclass(frozen=True)
class IssuedCode:
    token: str
    jti: str
    status: GradeStatus
    color: Color
    issued_at: datetime
    expires_at: datetime
    refresh_in: int


def issue_code(uscc: str, *, uow: UnitOfWork, status_cache: StatusCache, codes: CodeCache, keyring: Keyring,
               subjects: SubjectSeal, clock: Clock, settings: CodeSettings) -> IssuedCode:
    """The taxpayer's live code: the cached one while it matches the current grade, else a new one.

    On a warm cache this makes no SQL query (one Redis ``MGET``). Raises ``NotFound`` when
    the taxpayer has no record.
    """
    now = clock.now()
    status, cached = codes.read(uscc)
    if status is None:
        status = current_status(uscc, uow=uow, cache=status_cache)
        if status is None:
            raise NotFound(f"no taxpayer record for {mask_uscc(uscc)}")
    version = shown_fingerprint(status)
    if cached is None or cached.version != version or cached.expires_at - settings.refresh_margin <= now:
        key = keyring.signing_key()
        jti = secrets.token_urlsafe(12)
        claims = code_claims(status, subject=subjects.seal(uscc, jti=jti), issuer=settings.issuer, now=now,
                             ttl=settings.ttl, jti=jti)
        token = jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})
        cached = CachedCode(token, jti, version, _ts(claims["iat"]), _ts(claims["exp"]))
        serve_until = cached.expires_at - settings.refresh_margin
        codes.store(uscc, cached, ttl_ms=int((serve_until - now).total_seconds() * 1000))
    refresh_in = max(1, int((cached.expires_at - settings.refresh_margin - now).total_seconds()))
    return IssuedCode(cached.token, cached.jti, status, color_for(status.grade, status.state), cached.issued_at,
                      cached.expires_at, refresh_in)


def badge_png(code: IssuedCode, *, codes: CodeCache, render: Callable[..., bytes], clock: Clock) -> bytes:
    """The badge image of exactly ``code``'s token, rendered once per token."""
    png = codes.badge(code.status.uscc, code.jti)
    if png is None:
        status = code.status
        png = render(token=code.token, grade=status.grade.value if status.grade else None, color=code.color.value,
                     state=status.state.value, masked_name=mask_company_name(status.name), issued_at=code.issued_at)
        ttl = code.expires_at - clock.now()
        codes.store_badge(status.uscc, code.jti, png, ttl_ms=int(ttl.total_seconds() * 1000))
    return png


@dataclass(frozen=True)
class VerificationResult:
    verdict: Verdict
    status: GradeStatus | None
    color: Color | None
    privileges: list[dict[str, str]]
    verified_at: datetime
    token_color: str | None

    @property
    def valid(self) -> bool:
        return self.verdict.valid


def verify_code(token: str, *, clerk: Principal, uow: UnitOfWork, status_cache: StatusCache, keyring: Keyring,
                subjects: SubjectSeal, privileges: PrivilegeCatalogue, limiter: RateLimiter,
                audit: VerificationAudit, clock: Clock, settings: CodeSettings) -> VerificationResult:
    """Check a scanned token and record the scan. A bad token is a verdict, never an exception.

    One Redis round trip counts the clerk's attempt and reads the status and the code this
    service holds for the taxpayer the token names (a token equal to that code needs no second
    signature check, ``app.codes.jws``); the audit row is the only SQL on a warm cache. Raises
    ``RateLimited`` when the clerk has used up the per-clerk limit (nothing is checked, audited
    or answered then). A validly signed token whose subject does not open (sealed under another
    secret) names no taxpayer we know.
    """
    now = clock.now()
    scanned = ScannedToken(token)
    named = subjects.open(scanned.subject, jti=scanned.jti)  # signature not checked yet: only picks the keys to read
    allowed, cached = limiter.hit_and_get(settings.verify_limit, "verify", str(clerk.user_id),
                                          get=CodeCache.keys(named) if named else ())
    if not allowed:
        raise RateLimited("too many verifications from this counter; wait and try again",
                          retry_after=limiter.retry_after(settings.verify_limit, "verify", str(clerk.user_id)))
    raw_status, raw_code = cached if named else (None, None)
    verdict, claims = scanned.check(public_key=keyring.public_key, issuer=settings.issuer, leeway=settings.leeway,
                                    now=now, issued=CachedCode.token_in(raw_code) if raw_code else None)
    status = None
    uscc = None
    if claims:  # the claims just checked are the scanned ones, unless PyJWT read a token of another shape
        sealed = (claims.get("sub"), claims.get("jti"))
        uscc = named if sealed == (scanned.subject, scanned.jti) else subjects.open(sealed[0], jti=sealed[1])
    if verdict is Verdict.OK and claims is not None:
        status = StatusCache.decode(raw_status) if raw_status and uscc == named else None
        if status is None and uscc is not None:  # a miss (or Redis down): the database, then fill the cache
            status = current_status(uscc, uow=uow, cache=status_cache)
        verdict = Verdict.UNKNOWN_TAXPAYER if status is None else judge_freshness(claims, status)
    color = color_for(status.grade, status.state) if status else None
    result = VerificationResult(
        verdict=verdict, status=status, color=color,
        privileges=[p.to_dict() for p in privileges.for_color(color)] if color else [],
        verified_at=now, token_color=claims.get("color") if claims else None,
    )
    audit.record(dict(
        clerk_id=clerk.user_id, clerk_username=clerk.username, bank_id=clerk.bank_id,
        uscc=uscc,
        jti=str(claims.get("jti"))[:64] if claims else None,
        valid=result.valid, reason=verdict.value,
        grade=status.grade.value if status and status.grade else None,
        color=color.value if color else None, state=status.state.value if status else None,
        verified_at=now, details={"token_color": result.token_color} if result.token_color else {},
    ))
    return result


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
