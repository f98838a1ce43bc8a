"""Extension holders, created unbound and attached in ``create_app``.

Nothing here opens a connection at import time: the database engine, the Redis client and the
queue are built by ``init_app`` from the app's settings.
"""

from __future__ import annotations

from typing import Any

import redis
from flask import Flask
from flask_smorest import Api
from rq import Queue

from app.db import Database

api = Api()
db = Database()


class RedisHolder:
    """The process's Redis client and RQ queue, bound to the app's ``REDIS_URL``."""

    def __init__(self) -> None:
        self.client: redis.Redis | None = None
        self.queue: Queue | None = None
        self.url: str | None = None

    def init_app(self, app: Flask) -> None:
        self.url = app.config["REDIS_URL"]
        self.client = redis.Redis.from_url(
            self.url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
        )
        self.queue = Queue(
            app.config["QUEUE_NAME"],
            connection=self.client,
            is_async=not app.config["QUEUE_SYNC"],
        )
        app.extensions["shuima.redis"] = self


redis_store = RedisHolder()
