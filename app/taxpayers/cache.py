"""Redis cache of each taxpayer's current grade status.

Keys carry a Redis Cluster hash tag, ``{tp:<uscc>}:<what>``, so every key of one taxpayer
lands in one slot: multi-key reads (``MGET`` of status and code) keep working on a cluster.

Writers (a grade change, an import) overwrite the entry after their commit, unless it already
holds a *later* status: each status carries its row's ``status_version`` (raised in SQL by every
write, so versions follow commit order), and the write is a small Lua script that keeps the
higher one. Without it, two staff changing one taxpayer at once could leave the cache on the
first commit's grade for a day, whichever write reached Redis last. Readers that filled a miss
from the database use ``SET NX``, so a reader holding an older row never overwrites a writer.
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


def shown_fingerprint(status: GradeStatus) -> str:
    """Changes whenever what a code shows changes; codes derived from a status carry it (as their
    ``version``). Not ``GradeStatus.version``, the row's write counter that orders cache writes."""
    grade = status.grade.value if status.grade else "-"
    changed = status.changed_at.isoformat() if status.changed_at else "-"
    return f"{grade}|{status.state.value}|{changed}"


#: SET the status in KEYS[1] (ARGV: JSON, its version, TTL seconds) unless the entry there holds a
#: higher version; returns 1 when written.
_PUT_NEWER = """
local held = redis.call('GET', KEYS[1])
if held then
  local ok, status = pcall(cjson.decode, held)
  if ok and type(status) == 'table' and tonumber(status['v'] or 0) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
"""


class StatusCache:
    def __init__(self, redis: Any, *, ttl_seconds: int):
        self.redis = redis
        self.ttl = ttl_seconds
        self._put_newer = redis.register_script(_PUT_NEWER)

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
        """Overwrite entries after a committed change, except those already holding a later version;
        returns how many were written."""
        written = 0
        pipe = self.redis.pipeline(transaction=False)
        queued = 0
        for status in statuses:
            self._put_newer(**self._put_arguments(status), client=pipe)
            queued += 1
            if queued % batch == 0:
                written += sum(pipe.execute())
        written += sum(pipe.execute())
        return written

    @when_redis_down(None, level=logging.ERROR)
    def put(self, status: GradeStatus) -> None:
        """``put_many`` for one entry, in one ``EVALSHA``: a pipeline would first ask ``SCRIPT EXISTS``."""
        self._put_newer(**self._put_arguments(status))

    def _put_arguments(self, status: GradeStatus) -> dict[str, list]:
        return {"keys": [tp_key(status.uscc, "status")], "args": [json.dumps(status.to_cache()), status.version, self.ttl]}
