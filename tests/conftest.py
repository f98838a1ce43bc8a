"""Fixtures: a real Redis (``REDIS_URL`` or an embedded Valkey) and a real database
(``DATABASE_URL`` or a SQLite file), migrated once per session and emptied after each test."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
import redis as redis_lib
from sqlalchemy import text

from app import create_app
from app.config import normalize_database_url
from app.db import Base
from app.extensions import db
from app.migrate import reset_postgres, upgrade
from app.models import import_all_models
from tests.factories import Factory
from tests.rural_factories import RuralFactory


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self, start: datetime):
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from app.embedded_redis import EmbeddedValkey

    server = EmbeddedValkey().start()
    yield server.connection_url
    server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = normalize_database_url(
        os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}")
    if url.startswith("postgresql"):
        reset_postgres(url)
    upgrade(url)
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 25, 2, 0, 0, tzinfo=timezone.utc))


@pytest.fixture
def app(redis_url: str, database_url: str, clock: FakeClock, tmp_path: Path):
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test-secret-not-for-production-0123456789",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "PASSWORD_TIME_COST": 1,
            "PASSWORD_MEMORY_COST": 64,
            "LOG_JSON": False,
            "QUEUE_SYNC": True,
        },
        clock=clock,
    )
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield app
    failed = _failed_jobs()
    _empty_tables()
    client.flushdb()
    # QUEUE_SYNC runs jobs inline but RQ records a failure instead of raising it: surface it.
    assert not failed, f"background jobs failed during the test: {failed}"


def _failed_jobs() -> list[str]:
    from rq.registry import FailedJobRegistry

    from app.extensions import redis_store

    registry = FailedJobRegistry(queue=redis_store.queue)
    return [f"{job.func_name}: {(job.exc_info or '').strip().splitlines()[-1:]}"
            for job in (redis_store.queue.fetch_job(job_id) for job_id in registry.get_job_ids()) if job]


def _empty_tables() -> None:
    import_all_models()
    assert db.engine is not None
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def factory(app, client) -> Factory:
    return Factory(app, client)


@pytest.fixture
def rural(factory) -> RuralFactory:
    """Rural credit set-up through the API (tests/rural_factories.py)."""
    return RuralFactory(factory)


@pytest.fixture
def village(rural) -> str:
    """A village of the demo county 330283, its county filed."""
    return rural.county()[0]


@pytest.fixture
def officer(rural, village):
    """An officer of bank B1 in county 330283, logged in."""
    return rural.officer()
