"""Pooled connections are pinged only after sitting idle, and a dead one is replaced, not used."""

from __future__ import annotations

import types

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

import app.db
from app.db import make_engine

IDLE = 10.0


@pytest.fixture
def clock(monkeypatch) -> types.SimpleNamespace:
    """The pool's idle clock, moved by hand: no sleeping, and a slow machine cannot make
    back-to-back use look idle."""
    fake = types.SimpleNamespace(now=1_000.0)
    fake.monotonic = lambda: fake.now
    monkeypatch.setattr(app.db, "time", fake)
    return fake


def _counting_pings(engine) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    engine.dialect.do_ping = counted
    return pings


def test_a_connection_back_from_a_request_is_not_pinged_one_idle_for_long_is(database_url, clock):
    engine = make_engine(database_url, ping_after_idle=IDLE)
    pings = _counting_pings(engine)
    try:
        for _ in range(3):  # back-to-back use, as under load: no ping
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
        assert pings == []
        clock.now += IDLE + 1
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(database_url, clock):
    if not database_url.startswith("postgresql"):
        pytest.skip("needs a server that can drop a connection (PostgreSQL)")
    engine = make_engine(database_url, ping_after_idle=IDLE)
    admin = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            dropped = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as conn:  # what a server restart or a firewall does to an idle connection
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped}).scalar()
        clock.now += IDLE + 1
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != dropped
    finally:
        engine.dispose()
        admin.dispose()



def test_a_postgresql_server_that_never_answers_fails_the_connection_after_the_timeout():
    # A listening socket that never accepts: the TCP handshake completes (the kernel's backlog) and
    # the driver waits for the server's answer, as with a hung or unreachable database host.
    import socket
    import time

    from sqlalchemy.exc import OperationalError

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/test",
                             connect_timeout=2)
        started = time.monotonic()
        with pytest.raises(OperationalError):
            engine.connect()
        assert 1.5 < time.monotonic() - started < 10
