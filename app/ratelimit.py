"""Rate limits backed by Redis, falling back to process memory when Redis is unreachable.

Built on the ``limits`` library (moving windows). The fallback keeps a limit in force during
a Redis outage — per process rather than cluster-wide, which is weaker but never open.
"""

from __future__ import annotations

import logging
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)


class RateLimiter:
    """``hit`` counts one attempt against a limit like ``"5 per 15 minutes"``."""

    def __init__(self, redis_url: str | None):
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._redis = None
        if redis_url:
            # Fail fast (one quick retry) so an outage degrades to memory instead of stalling.
            storage = RedisStorage(redis_url, socket_timeout=1, socket_connect_timeout=1,
                                   retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=1))
            self._redis = MovingWindowRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, limit: str) -> RateLimitItem:
        if limit not in self._items:
            self._items[limit] = parse(limit)
        return self._items[limit]

    def hit(self, limit: str, *key: str) -> bool:
        """Record one attempt; False when the limit is already used up."""
        return self._call("hit", limit, key)

    def test(self, limit: str, *key: str) -> bool:
        """True while another attempt would still be admitted (records nothing)."""
        return self._call("test", limit, key)

    def retry_after(self, limit: str, *key: str) -> int:
        """Seconds until the window admits another attempt (at least 1)."""
        item = self._item(limit)
        try:
            stats = (self._redis or self._memory).get_window_stats(item, *key)
        except Exception:  # noqa: BLE001
            stats = self._memory.get_window_stats(item, *key)
        return max(1, int(stats.reset_time - time.time()))

    def reset(self, limit: str, *key: str) -> None:
        item = self._item(limit)
        for limiter in (self._redis, self._memory):
            if limiter is None:
                continue
            try:
                limiter.clear(item, *key)
            except Exception:  # noqa: BLE001
                log.warning("rate limit reset failed", exc_info=True)

    def _call(self, method: str, limit: str, key: tuple[str, ...]) -> bool:
        item = self._item(limit)
        if self._redis is not None:
            try:
                return getattr(self._redis, method)(item, *key)
            except Exception:  # noqa: BLE001 - any storage failure: degrade, don't open
                log.warning("rate limit storage unreachable; using in-process limits")
        return getattr(self._memory, method)(item, *key)
