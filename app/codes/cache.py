"""Redis cache of each taxpayer's live code token and badge image.

A cached code records the fingerprint of the status it was signed from (``shown_fingerprint``,
its ``version``); it is served only while that fingerprint is the current status's, so a grade
change shows at the next fetch even if an old code is still sitting in Redis. Status and code
are read with one ``MGET`` (same hash slot).

Each entry records its ``FORMAT``; an entry of another format reads as no entry, so when a
release changes what a token holds, the codes held in Redis at the upgrade are re-issued at the
next fetch instead of served (and a verifier compares a scanned token with none of them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.degrade import when_redis_down
from app.taxpayers.cache import StatusCache, tp_key
from app.taxpayers.domain import GradeStatus


#: 2: the token's subject is sealed (``app.codes.subjects``); format 1 tokens carried the plain USCC.
FORMAT = 2


@dataclass(frozen=True)
class CachedCode:
    token: str
    jti: str
    version: str
    issued_at: datetime
    expires_at: datetime

    def dumps(self) -> str:
        return json.dumps({"fmt": FORMAT, "token": self.token, "jti": self.jti, "version": self.version,
                           "iat": self.issued_at.isoformat(), "exp": self.expires_at.isoformat()})

    @staticmethod
    def token_in(raw: bytes | str) -> str | None:
        """Only the token of a stored entry (the verifier compares it; it needs no dates)."""
        d = json.loads(raw)
        return d["token"] if d.get("fmt") == FORMAT else None

    @classmethod
    def loads(cls, raw: bytes | str) -> "CachedCode | None":
        d = json.loads(raw)
        if d.get("fmt") != FORMAT:
            return None
        return cls(d["token"], d["jti"], d["version"], datetime.fromisoformat(d["iat"]),
                   datetime.fromisoformat(d["exp"]))


class CodeCache:
    def __init__(self, redis: Any):
        self.redis = redis

    @staticmethod
    def keys(uscc: str) -> list[str]:
        """The taxpayer's status and code keys, in the order ``read`` (and the verifier) reads them."""
        return [tp_key(uscc, "status"), tp_key(uscc, "code")]

    @when_redis_down((None, None))
    def read(self, uscc: str) -> tuple[GradeStatus | None, CachedCode | None]:
        raw_status, raw_code = self.redis.mget(self.keys(uscc))
        return StatusCache.decode(raw_status), CachedCode.loads(raw_code) if raw_code else None

    @when_redis_down(None)
    def store(self, uscc: str, code: CachedCode, *, ttl_ms: int) -> None:
        self.redis.set(tp_key(uscc, "code"), code.dumps(), px=max(ttl_ms, 1))

    @when_redis_down(None)
    def badge(self, uscc: str, jti: str) -> bytes | None:
        raw = self.redis.get(tp_key(uscc, "badge"))
        if not raw:
            return None
        stored_jti, _, png = raw.partition(b"\n")
        return png if stored_jti.decode() == jti else None

    @when_redis_down(None)
    def store_badge(self, uscc: str, jti: str, png: bytes, *, ttl_ms: int) -> None:
        self.redis.set(tp_key(uscc, "badge"), jti.encode() + b"\n" + png, px=max(ttl_ms, 1))
