"""The benchmark's yardstick: a bare Flask app served by the same gunicorn settings as Shuima.

``loadtests/bench.py`` reports the service's throughput as a ratio of this one's, measured in
the same run on the same machine, so the targets hold whatever else the machine is doing.

Beside ``/hello`` it serves two *floors*: bare Flask endpoints that make only the I/O a hot
route cannot do without, with the service's own Redis client and database engine settings
(``REDIS_URL``, ``DATABASE_URL``) and nothing else — no auth, no token, no logging, no metrics.
No Flask view of the route can be faster than its floor on the same machine (only a layer that
skips Flask itself could, as ``app.codes.front`` does for the code fetch):

- ``/floor/code``: one Redis round trip (a code fetch must read the taxpayer's held code and
  current status from the shared cache: a grade change shows at once on every host);
- ``/floor/verification``: one pipelined Redis round trip (rate-limit count, status, held code)
  and one committed ``INSERT`` (issue #2: every verification writes its audit row, and that
  insert is its only SQL).

The connections are made on first use, so ``/hello`` alone needs neither Redis nor a database.
"""

from __future__ import annotations

import itertools
import os
from functools import cache
from typing import Any

from flask import Flask
from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, insert, inspect
from sqlalchemy.exc import SQLAlchemyError

app = Flask(__name__)

#: Shaped like the service's ``verifications`` rows, without their foreign keys.
_floor_audit = Table(
    "bench_floor_audit", MetaData(),
    Column("id", Integer, primary_key=True),
    Column("clerk_username", String(64)), Column("uscc", String(18)), Column("jti", String(64)),
    Column("valid", Boolean), Column("reason", String(32)), Column("color", String(8)), Column("details", JSON),
)
_INSERT = insert(_floor_audit)
_KEYS = 2000  # as many distinct keys as the bench rotates codes
_next = itertools.count()


@cache
def _redis() -> Any:
    from app.extensions import make_redis_client

    return make_redis_client(os.environ["REDIS_URL"])


@cache
def _engine() -> Any:
    from app.config import normalize_database_url
    from app.db import make_engine

    engine = make_engine(normalize_database_url(os.environ["DATABASE_URL"]))
    try:
        _floor_audit.create(engine, checkfirst=True)
    except SQLAlchemyError:  # another worker created it between the check and the CREATE
        if not inspect(engine).has_table(_floor_audit.name):
            raise
    return engine


def _keys() -> tuple[str, str]:
    """The next of ``_KEYS`` code and status key pairs, hash-tagged as the service's are."""
    n = next(_next) % _KEYS
    return f"{{floor:{n}}}:code", f"{{floor:{n}}}:status"


def _fill_on_miss(keys: tuple[str, str], code: bytes | None) -> bool:
    """Store a code- and status-sized pair on the first miss, so that later reads carry what the
    service's do (≈700 and ≈290 bytes); a miss costs one more round trip, once per key."""
    if code is None:
        _redis().mset({keys[0]: b"c" * 700, keys[1]: b"s" * 290})
    return code is not None


@app.get("/hello")
def hello() -> dict[str, str]:
    """A small JSON answer, like the service's (no database, no Redis)."""
    return {"hello": "world"}


@app.get("/floor/code")
def floor_code() -> dict[str, Any]:
    """The least a code fetch does: one read of the shared cache (two keys, one ``MGET``)."""
    keys = _keys()
    code, _status = _redis().mget(*keys)
    return {"hello": "world", "cached": _fill_on_miss(keys, code)}


@app.get("/floor/verification")
def floor_verification() -> dict[str, Any]:
    """The least a verification does: one pipelined round trip, then one committed audit row."""
    keys = _keys()
    pipe = _redis().pipeline(transaction=False)
    pipe.incr("{floor}:limit").expire("{floor}:limit", 60).mget(*keys)
    count, _, (code, _status) = pipe.execute()
    with _engine().begin() as conn:
        conn.execute(_INSERT, {"clerk_username": "floor", "uscc": "91330200MA2AAAAA1X", "jti": keys[0], "valid": True,
                               "reason": "ok", "color": "green", "details": {}})
    return {"hello": "world", "count": count, "cached": _fill_on_miss(keys, code)}
