"""Redis cache of each taxpayer's current grade status.

Keys carry a Redis Cluster hash tag, ``{tp:<uscc>}:<what>``, so every key of one taxpayer
lands in one slot: multi-key reads (``MGET`` of status and code) keep working on a cluster.

Writers (a grade change, an import) *overwrite* the entry after their commit; readers that
filled a miss from the database use ``SET NX``, so a reader holding an older row can never
overwrite a writer's newer entry.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Iterable

from app.degrade import when_redis_down

from app.taxpayers.domain import GradeStatus


def tp_key(uscc: str, what: str) -> str:
    """The cache key of one taxpayer's ``what`` (status, code, badge…)."""
    return f"{{tp:{uscc}}}:{what}"


def status_version(status: GradeStatus) -> str:
    """Changes whenever what a code shows changes; codes derived from a status carry it."""
    grade = status.grade.value if status.grade else "-"
    changed = status.changed_at.isoformat() if status.changed_at else "-"
    return f"{grade}|{status.state.value}|{changed}"


class StatusCache:
    def __init__(self, redis: Any, *, ttl_seconds: int):
        self.redis = redis
        self.ttl = ttl_seconds

    @staticmethod
    def decode(raw: bytes | str | None) -> GradeStatus | None:
        return GradeStatus.from_cache(json.loads(raw)) if raw else None

    @when_redis_down(None)
    def get(self, uscc: str) -> GradeStatus | None:
        return self.decode(self.redis.get(tp_key(uscc, "status")))

    @when_redis_down(None)
    def fill(self, status: GradeStatus) -> None:
        """Store a status read from the database, unless a writer got there first."""
        self.redis.set(tp_key(status.uscc, "status"), json.dumps(status.to_cache()), ex=self.ttl, nx=True)

    @when_redis_down(0, level=logging.ERROR)
    def put_many(self, statuses: Iterable[GradeStatus], *, batch: int = 2000) -> int:
        """Overwrite entries after a committed change; returns how many were written."""
        count = 0
        pipe = self.redis.pipeline(transaction=False)
        for status in statuses:
            pipe.set(tp_key(status.uscc, "status"), json.dumps(status.to_cache()), ex=self.ttl)
            count += 1
            if count % batch == 0:
                pipe.execute()
        pipe.execute()
        return count

    def put(self, status: GradeStatus) -> None:
        self.put_many([status])
