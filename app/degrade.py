"""Keep serving when Redis is unreachable: caches then behave as misses.

The database stays the record, so a cache that cannot be read is a miss and a cache that
cannot be written is skipped; requests get slower, not broken. A writer whose overwrite
fails logs an error: its entry may be stale until the cache TTL if that Redis survives.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable, TypeVar

import redis

log = logging.getLogger(__name__)

T = TypeVar("T")


def when_redis_down(default: Any, *, level: int = logging.WARNING) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate a cache method: on a Redis connection or timeout error, log and return ``default``."""

    def decorator(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            try:
                return method(*args, **kwargs)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.log(level, "redis unavailable in %s: %s", method.__qualname__, exc)
                return default

        return wrapper

    return decorator
