"""Ed25519 signing keys for code tokens, their rotation and the public JWKS.

The key id (``kid``) is the RFC 7638 JWK thumbprint of the public key. Private keys are kept
in the database encrypted with a Fernet key derived (HKDF-SHA256) from the app secret, so a
database dump alone cannot mint codes. A retired key stays in the JWKS until every token it
signed has expired (token lifetime + leeway after retirement).

Each process holds the keyring in memory and re-reads it every ``KEYRING_REFRESH_SECONDS``
and whenever a verifier meets an unknown ``kid`` (at most once per ``MISS_RELOAD_SECONDS``),
so a rotation made by the CLI reaches running servers without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.clock import Clock
from app.codes.models import SigningKey

#: Shortest pause between two reloads triggered by unknown key ids (a forged kid must not
#: turn every verification into a database read).
MISS_RELOAD_SECONDS = 5.0


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 over the required members in lexicographic order, no spaces."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"shuima signing keys").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    private: Ed25519PrivateKey | None
    public: Ed25519PublicKey
    jwk: dict[str, str]
    created_at: datetime
    retired_at: datetime | None


def create_key(session: Session, *, secret: str, now: datetime) -> str:
    """Add a new active key and retire the others; returns the new ``kid``. Caller commits."""
    private = Ed25519PrivateKey.generate()
    jwk = public_jwk(private.public_key())
    kid = jwk_thumbprint(jwk)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for old in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        old.retired_at = now
    session.add(SigningKey(kid=kid, private_key=_fernet(secret).encrypt(pem), public_jwk=jwk | {"kid": kid},
                           created_at=now))
    return kid


class Keyring:
    """The signing key and the verification keys one process uses."""

    def __init__(self, *, session_factory: Callable[[], Session], secret: str, clock: Clock,
                 token_ttl: timedelta, leeway: timedelta, refresh_seconds: int):
        self._session_factory = session_factory
        self._secret = secret
        self._clock = clock
        self._grace = token_ttl + leeway
        self._refresh = timedelta(seconds=refresh_seconds)
        self._lock = threading.Lock()
        self._keys: dict[str, LoadedKey] = {}
        self._active: LoadedKey | None = None
        self._loaded_at: datetime | None = None
        self._last_miss_reload: datetime | None = None

    def signing_key(self) -> LoadedKey:
        """The active key, creating the first one if the database has none."""
        now = self._clock.now()
        if self._active is None or self._stale(now):
            self.reload()
        if self._active is None:
            with self._session_factory() as session:
                create_key(session, secret=self._secret, now=now)
                session.commit()
            self.reload()
        assert self._active is not None
        return self._active

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        """The public key for ``kid`` if it may still verify tokens, else None."""
        now = self._clock.now()
        if self._loaded_at is None or self._stale(now):
            self.reload()
        key = self._keys.get(kid)
        if key is None and (self._last_miss_reload is None
                            or (now - self._last_miss_reload).total_seconds() >= MISS_RELOAD_SECONDS):
            self._last_miss_reload = now
            self.reload()
            key = self._keys.get(kid)
        if key is None or (key.retired_at is not None and key.retired_at + self._grace < now):
            return None
        return key.public

    def jwks(self) -> dict[str, Any]:
        """RFC 7517 key set of every key that may still verify a live token."""
        self.reload()
        return {"keys": [k.jwk | {"use": "sig", "alg": "EdDSA"} for k in self._keys.values()]}

    def reload(self) -> None:
        now = self._clock.now()
        fernet = _fernet(self._secret)
        with self._session_factory() as session:
            rows = list(session.scalars(
                select(SigningKey)
                .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > now - self._grace))
                .order_by(SigningKey.created_at)
            ))
        keys: dict[str, LoadedKey] = {}
        active: LoadedKey | None = None
        for row in rows:
            public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(row.public_jwk["x"] + "=="))
            private = None
            if row.retired_at is None:
                loaded = serialization.load_pem_private_key(fernet.decrypt(row.private_key), password=None)
                assert isinstance(loaded, Ed25519PrivateKey)
                private = loaded
            key = LoadedKey(row.kid, private, public, dict(row.public_jwk), row.created_at, row.retired_at)
            keys[row.kid] = key
            if private is not None:
                active = key  # rows are oldest first: the newest active key wins
        with self._lock:
            self._keys, self._active, self._loaded_at = keys, active, now

    def _stale(self, now: datetime) -> bool:
        return self._loaded_at is None or now - self._loaded_at >= self._refresh
