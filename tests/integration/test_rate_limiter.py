"""The fixed-window rate limiter against a real Redis, and its in-process fallback."""

from __future__ import annotations

import uuid

from app.extensions import make_redis_client
from app.ratelimit import RateLimiter


class WallClock:
    def __init__(self, at: float):
        self.at = at

    def __call__(self) -> float:
        return self.at


def _key() -> str:
    return uuid.uuid4().hex


def test_limit_resets_when_the_window_turns(redis_url):
    clock = WallClock(1_800_000_000.0)  # a multiple of 60: the start of a window
    limiter, key = RateLimiter(make_redis_client(redis_url), wall_clock=clock), _key()
    assert [limiter.hit("2 per 1 minute", "t", key) for _ in range(3)] == [True, True, False]
    assert limiter.retry_after("2 per 1 minute", "t", key) == 60
    clock.at += 45
    assert not limiter.test("2 per 1 minute", "t", key) and limiter.retry_after("2 per 1 minute", "t", key) == 15
    clock.at += 15
    assert limiter.test("2 per 1 minute", "t", key) and limiter.hit("2 per 1 minute", "t", key)


def test_limit_is_counted_in_redis_across_limiter_instances(redis_url):
    # A fresh key per run: this test has no app fixture to flush Redis, and a window lasts a minute.
    first, second, key = RateLimiter(make_redis_client(redis_url)), RateLimiter(make_redis_client(redis_url)), _key()
    assert first.hit("2 per 1 minute", "shared", key) and second.hit("2 per 1 minute", "shared", key)
    assert not first.hit("2 per 1 minute", "shared", key)


def test_window_keys_expire_in_redis(redis_url):
    import redis

    limiter, key = RateLimiter(make_redis_client(redis_url)), _key()
    limiter.hit("5 per 1 minute", "t", key)
    client = redis.Redis.from_url(redis_url)
    [name] = client.keys(f"shuima:rl:*{key}*")
    assert 0 < client.ttl(name) <= 61


def test_hit_and_get_reads_keys_in_the_same_round_trip(redis_url):
    import redis

    redis.Redis.from_url(redis_url).set("{tp:x}:status", b"cached")
    limiter, key = RateLimiter(make_redis_client(redis_url)), _key()
    assert limiter.hit_and_get("1 per 1 minute", "t", key, get=["{tp:x}:status", "{tp:y}:status"]) == (
        True, [b"cached", None])
    assert limiter.hit_and_get("1 per 1 minute", "t", key, get=["{tp:x}:status"]) == (False, [b"cached"])


def test_test_records_nothing_and_reset_forgets(redis_url):
    limiter, key = RateLimiter(make_redis_client(redis_url)), _key()
    assert all(limiter.test("1 per 1 minute", "t", key) for _ in range(3))
    assert limiter.hit("1 per 1 minute", "t", key) and not limiter.test("1 per 1 minute", "t", key)
    limiter.reset("1 per 1 minute", "t", key)
    assert limiter.hit("1 per 1 minute", "t", key)


def test_limits_hold_in_memory_while_redis_is_unreachable():
    limiter, key = RateLimiter(make_redis_client("redis://127.0.0.1:1/0")), _key()
    results = [limiter.hit_and_get("2 per 1 minute", "t", key, get=["{tp:x}:status"]) for _ in range(3)]
    assert results == [(True, [None]), (True, [None]), (False, [None])]
    assert not limiter.test("2 per 1 minute", "t", key) and limiter.retry_after("2 per 1 minute", "t", key) >= 1
