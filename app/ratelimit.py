"""Rate limits counted in Redis fixed windows, falling back to process memory when Redis is unreachable.

A limit like ``"120 per 1 minute"`` counts attempts in windows aligned to the epoch
(``now // period``): one ``INCR`` of the window's key and an ``EXPIRE`` in a single pipelined
round trip, which the verification path shares with its status read (``hit_and_get``). The
``limits`` library's moving window (a Lua script over a list of timestamps) cost several times
more Redis and client CPU per hit; a fixed window admits at most twice the limit across one
window boundary, which is still far from enumerating taxpayers or guessing passwords.

The fallback keeps a limit in force during a Redis outage: a moving window in process memory,
per process rather than cluster-wide — weaker, never open.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Sequence

import redis
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

KEY_PREFIX = "shuima:rl"


class RateLimiter:
    """``hit`` counts one attempt against a limit like ``"5 per 15 minutes"``."""

    def __init__(self, redis_client: redis.Redis | None, *, wall_clock: Callable[[], float] = time.time):
        """Count in ``redis_client`` (build it with ``app.extensions.make_redis_client``, which fails
        fast so an outage degrades to memory instead of stalling); None counts in memory only."""
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._now = wall_clock
        self._redis = redis_client
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, limit: str) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = parse(limit)
        return item

    def _window(self, item: RateLimitItem, key: tuple[str, ...]) -> tuple[str, int, float]:
        """The current window's Redis key, the window length and when the window ends."""
        period = item.get_expiry()
        index = int(self._now() // period)
        return f"{KEY_PREFIX}:{item.amount}/{period}:{'/'.join(key)}:{index}", period, (index + 1) * period

    def hit(self, limit: str, *key: str) -> bool:
        """Record one attempt; False when the limit is already used up."""
        return self.hit_and_get(limit, *key)[0]

    def hit_and_get(self, limit: str, *key: str, get: Sequence[str] = ()) -> tuple[bool, list[bytes | None]]:
        """``hit``, and read the Redis keys ``get`` in the same round trip.

        The values are None when Redis is unreachable (the limit is then counted in memory):
        callers treat them as cache misses.
        """
        item = self._item(limit)
        if self._redis is not None:
            name, period, _ends = self._window(item, key)
            try:
                pipe = self._redis.pipeline(transaction=False)
                pipe.incr(name)
                pipe.expire(name, period + 1)
                if get:
                    pipe.mget(get)
                replies = pipe.execute()
                return replies[0] <= item.amount, (replies[2] if get else [])
            except redis.RedisError:
                log.warning("rate limit storage unreachable; using in-process limits")
        return self._memory.hit(item, *key), [None] * len(get)

    def test(self, limit: str, *key: str) -> bool:
        """True while another attempt would still be admitted (records nothing)."""
        item = self._item(limit)
        if self._redis is not None:
            try:
                return int(self._redis.get(self._window(item, key)[0]) or 0) < item.amount
            except redis.RedisError:
                log.warning("rate limit storage unreachable; using in-process limits")
        return self._memory.test(item, *key)

    def retry_after(self, limit: str, *key: str) -> int:
        """Seconds until the window admits another attempt (at least 1)."""
        item = self._item(limit)
        if self._redis is not None:
            return max(1, int(self._window(item, key)[2] - self._now() + 0.999))
        stats = self._memory.get_window_stats(item, *key)
        return max(1, int(stats.reset_time - time.time()))

    def reset(self, limit: str, *key: str) -> None:
        """Forget the attempts counted against ``key`` (e.g. after a successful log-in)."""
        item = self._item(limit)
        if self._redis is not None:
            try:
                self._redis.delete(self._window(item, key)[0])
            except redis.RedisError:
                log.warning("rate limit reset failed", exc_info=True)
        self._memory.clear(item, *key)
