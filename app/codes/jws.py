"""Verifying code tokens: a direct Ed25519 check for the tokens we issue, PyJWT for the rest.

A code token we issue is a compact JWS with a ``{"alg","kid","typ"}`` header, unpadded
base64url segments and exactly the claims of ``code_claims``. For that shape, PyJWT's generic
``decode`` (per-character alphabet checks, option merging, claim validators) costs several
times the Ed25519 verification itself, so ``ScannedToken.check`` parses the three segments, verifies
the signature over ``header.payload`` with ``cryptography`` and checks the few claims a code
carries. Anything of another shape (padding, extra header fields such as ``b64`` or ``crit``,
extra claims such as ``nbf`` or ``aud``, undecodable JSON) goes through the PyJWT path, so every
verdict — ``bad_signature``, ``unknown_key``, ``expired``, ``malformed`` — is the one PyJWT
would have given (tests/e2e/test_verification_security.py, tests/unit/test_code_jws.py).

A scanned token that is byte for byte the one this service signed and still holds in its code
cache for that taxpayer (``issued``) is authentic without a second Ed25519 check: the cache is
the same Redis that already decides the taxpayer's color, so trusting it adds no new trust, and
at the counter almost every scan is of the code the phone has just fetched. Such a token still
goes through every other check (its key must still be published, the claims, the expiry); any
other token, including an older code of the same taxpayer, is verified with its signature.
``ScannedToken`` splits the token and decodes its payload once: its ``subject`` and ``jti``
(unverified) decide which cache entry to compare with, and its ``check`` reuses the same decoded claims.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.codes.domain import Verdict

#: Three unpadded base64url segments: the only shape the fast path accepts.
_COMPACT = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
_HEADER_FIELDS = frozenset({"alg", "kid", "typ"})
_CLAIMS = frozenset({"iss", "sub", "grade", "color", "state", "iat", "exp", "jti"})
_REQUIRED = ("exp", "iat", "sub", "jti")

KeyLookup = Callable[[str], "Ed25519PublicKey | None"]


class _Unusual(Exception):
    """The token is not of the shape we issue: let PyJWT judge it."""


def _b64decode(segment: str) -> bytes:
    if len(segment) % 4 == 1:
        raise _Unusual
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class ScannedToken:
    """A scanned token, split and its payload decoded once: read ``subject`` first, then ``check``.

    Only the shape is judged here; nothing is trusted before ``check`` has verified the signature.
    """

    __slots__ = ("token", "_segments", "_payload_decodes", "_claims")

    def __init__(self, token: str):
        self.token = token
        match = _COMPACT.fullmatch(token)
        self._segments = match.groups() if match else None
        # Whether the payload segment is base64url at all (if not, PyJWT judges the token before any
        # signature check), and its JSON object, or None when it holds none (judged after the signature).
        self._payload_decodes = False
        self._claims: dict[str, Any] | None = None
        if self._segments is None:
            return
        try:
            payload = _b64decode(self._segments[1])
        except _Unusual:
            return
        self._payload_decodes = True
        try:
            claims = json.loads(payload)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the decoder goes
            return
        self._claims = claims if isinstance(claims, dict) else None

    @property
    def subject(self) -> str | None:
        """The ``sub`` claim of a token of our shape, signature not checked; None for any other token."""
        return self._unverified("sub")

    @property
    def jti(self) -> str | None:
        """The ``jti`` claim of a token of our shape, signature not checked; None for any other token."""
        return self._unverified("jti")

    def _unverified(self, name: str) -> str | None:
        value = self._claims.get(name) if self._claims is not None else None
        return value if isinstance(value, str) else None

    def check(self, *, public_key: KeyLookup, issuer: str, leeway: timedelta, now: datetime,
              issued: str | None = None) -> tuple[Verdict, dict[str, Any] | None]:
        """The verdict on the token and, when its signature holds, its claims.

        ``issued``: the token this service signed and holds for the token's subject, if any; when
        the scanned token is exactly that one, its signature is known good and is not checked again.
        """
        known = issued is not None and hmac.compare_digest(issued.encode(), self.token.encode())
        try:
            return self._fast(public_key=public_key, issuer=issuer, leeway=leeway, now=now, known=known)
        except _Unusual:
            return check_token_pyjwt(self.token, public_key=public_key, issuer=issuer, leeway=leeway, now=now)

    def _fast(self, *, public_key: KeyLookup, issuer: str, leeway: timedelta, now: datetime,
              known: bool) -> tuple[Verdict, dict[str, Any] | None]:
        if self._segments is None:
            raise _Unusual
        header_b64, payload_b64, signature_b64 = self._segments
        try:
            header = json.loads(_b64decode(header_b64))
        except (ValueError, RecursionError):
            raise _Unusual from None
        if not isinstance(header, dict) or not header.keys() <= _HEADER_FIELDS:
            raise _Unusual
        public = _key_for(header, public_key)
        if isinstance(public, Verdict):
            return public, None
        if not self._payload_decodes:
            raise _Unusual
        if not known:
            try:
                public.verify(_b64decode(signature_b64), f"{header_b64}.{payload_b64}".encode("ascii"))
            except InvalidSignature:
                return Verdict.BAD_SIGNATURE, None
        claims = self._claims
        if claims is None or not claims.keys() <= _CLAIMS:
            raise _Unusual
        if any(claims.get(name) is None for name in _REQUIRED) or claims.get("iss") is None:
            return Verdict.MALFORMED, None  # PyJWT: MissingRequiredClaimError
        if claims["iss"] != issuer or not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
            return Verdict.MALFORMED, None  # PyJWT: InvalidIssuerError, InvalidSubjectError, InvalidJTIError
        return _judge_expiry(claims, leeway=leeway, now=now)


def _key_for(header: dict[str, Any], public_key: KeyLookup) -> Ed25519PublicKey | Verdict:
    """The published key the header names, or the verdict when it names none of ours."""
    kid = header.get("kid")
    if header.get("alg") != "EdDSA" or not isinstance(kid, str):
        return Verdict.MALFORMED
    public = public_key(kid)
    return Verdict.UNKNOWN_KEY if public is None else public


def check_token_pyjwt(token: str, *, public_key: KeyLookup, issuer: str, leeway: timedelta,
                      now: datetime) -> tuple[Verdict, dict[str, Any] | None]:
    """The reference verifier (PyJWT), for tokens not of the shape we issue."""
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.InvalidTokenError, RecursionError):  # PyJWT lets the JSON decoder's RecursionError through
        return Verdict.MALFORMED, None
    public = _key_for(header, public_key)
    if isinstance(public, Verdict):
        return public, None
    try:
        claims = jwt.decode(
            token, public, algorithms=["EdDSA"], issuer=issuer, leeway=leeway.total_seconds(),
            options={"require": ["exp", "iat", "sub", "jti"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        return Verdict.BAD_SIGNATURE, None
    except (jwt.InvalidTokenError, RecursionError):
        return Verdict.MALFORMED, None
    return _judge_expiry(claims, leeway=leeway, now=now)


def _judge_expiry(claims: dict[str, Any], *, leeway: timedelta,
                  now: datetime) -> tuple[Verdict, dict[str, Any] | None]:
    # Expiry is judged against the injected clock, not the process's wall time.
    exp = claims.get("exp")
    if not isinstance(exp, int) or datetime.fromtimestamp(exp, tz=timezone.utc) + leeway < now:
        return Verdict.EXPIRED, claims
    return Verdict.OK, claims
