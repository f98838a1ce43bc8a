"""Pooled connections are pinged only after sitting idle, and a dead one is replaced, not used."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from app.db import make_engine

IDLE = 0.3


def _counting_pings(engine) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    engine.dialect.do_ping = counted
    return pings


def test_a_connection_back_from_a_request_is_not_pinged_one_idle_for_long_is(database_url):
    engine = make_engine(database_url, ping_after_idle=IDLE)
    pings = _counting_pings(engine)
    try:
        for _ in range(3):  # back-to-back use, as under load: no ping
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
        assert pings == []
        time.sleep(IDLE + 0.1)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("needs a server that can drop a connection (PostgreSQL)")
    engine = make_engine(database_url, ping_after_idle=IDLE)
    admin = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            dropped = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as conn:  # what a server restart or a firewall does to an idle connection
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped}).scalar()
        time.sleep(IDLE + 0.1)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != dropped
    finally:
        engine.dispose()
        admin.dispose()
