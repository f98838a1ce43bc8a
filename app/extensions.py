"""Extension holders, created unbound and attached in ``create_app``.

Nothing here opens a connection at import time: the database engine, the Redis client and the
queue are built by ``init_app`` from the app's settings.
"""

from __future__ import annotations

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from flask import Flask
from flask_smorest import Api
from rq import Queue

from app.db import Database

api = Api()
db = Database()


def make_redis_client(url: str) -> redis.Redis:
    """A client that fails fast: one quick retry, then the caller degrades (see ``app.degrade``).

    redis-py's default retries with exponential backoff up to 10 s would hold a request
    for many seconds while Redis is down.
    """
    return redis.Redis.from_url(
        url, socket_timeout=2, socket_connect_timeout=1, health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=1),
    )


class RedisHolder:
    """The process's Redis client and RQ queue, bound to the app's ``REDIS_URL``."""

    def __init__(self) -> None:
        self.client: redis.Redis | None = None
        self.queue: Queue | None = None
        self.url: str | None = None

    def init_app(self, app: Flask) -> None:
        self.url = app.config["REDIS_URL"]
        self.client = make_redis_client(self.url)
        self.queue = Queue(
            app.config["QUEUE_NAME"],
            connection=self.client,
            is_async=not app.config["QUEUE_SYNC"],
        )
        app.extensions["shuima.redis"] = self


redis_store = RedisHolder()
