"""Database plumbing: declarative base, engine/session factory and the unit of work.

Use cases take a unit of work and end with an explicit ``uow.commit()``; leaving the ``with``
block without it rolls back. Domain events collected during the transaction are handed to the
event bus only after a successful commit, so subscribers never see a change that was undone.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Sequence

from sqlalchemy import JSON, DateTime, MetaData, Select, String, Table, create_engine, event, exc, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from flask import Flask

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ImportRunColumns:
    """Columns of a table recording one CSV import run and its report (grades, rural files)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    imported_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    rows: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)


def page(session: Session, stmt: Select, offset: int, limit: int) -> tuple[list[Any], int]:
    """One page of ``stmt``'s entities (its ORDER BY decides which) and how many there are in all."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    return list(session.scalars(stmt.offset(offset).limit(limit))), total


PING_AFTER_IDLE_SECONDS = 10.0
"""A pooled connection that sat unused this long is pinged before it is handed out (see ``make_engine``)."""


def bulk_insert(session: Session, target: Table | type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``target`` (a table or a mapped class) in the
    session's transaction, without reading back generated keys.

    Not the ORM's bulk path: it splits batches wherever the set of None-valued keys changes
    (an empty score, say), which turns PostgreSQL inserts into row-by-row statements.

    On PostgreSQL the rows go through ``COPY … FROM STDIN`` (psycopg's copy), the server's own
    bulk path: one statement for the whole batch instead of one per row. Each value passes its
    column type's bind processing for the dialect first, as in an ``INSERT`` (``UtcDateTime`` turns
    datetimes to UTC and refuses naive ones; JSON values are wrapped for psycopg). A column the rows
    leave out gets its Python-side default as an ``INSERT`` would, when that default is a constant
    (``COPY`` knows only server defaults); elsewhere, or when a left-out column's default is computed
    (``utcnow``, ``dict``), it is a Core ``executemany`` ``INSERT``. No rows, no statement.
    """
    if not rows:
        return
    table: Table = getattr(target, "__table__", target)  # type: ignore[assignment]
    connection = session.connection()
    dialect = connection.dialect
    given = list(rows[0])
    left_out = [c for c in table.columns if c.default is not None and c.name not in rows[0]]
    if dialect.name != "postgresql" or not all(c.default.is_scalar for c in left_out):  # type: ignore[union-attr]
        session.execute(insert(table), list(rows))
        return
    from psycopg import sql

    columns = [*given, *(c.name for c in left_out)]
    constants = [c.default.arg for c in left_out]  # type: ignore[union-attr]
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*filter(None, (table.schema, table.name))), sql.SQL(", ").join(map(sql.Identifier, columns)))
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([process(value) if process else value
                            for value, process in zip([*(row[name] for name in given), *constants], processors)])


#: Seconds a new PostgreSQL connection may take (libpq's ``connect_timeout``).
CONNECT_TIMEOUT_SECONDS = 5


def make_engine(url: str, *, ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
                connect_timeout: int = CONNECT_TIMEOUT_SECONDS) -> Engine:
    """Build an engine; SQLite gets WAL, foreign keys and a busy timeout for several processes.

    Connections are checked before use only after ``ping_after_idle`` seconds in the pool, not
    on every checkout as ``pool_pre_ping`` does: under load a connection comes back within
    milliseconds, and a ping per checkout was one of the three PostgreSQL round trips of every
    verification (ping, INSERT, COMMIT). What a ping is for — a server restarted, or a
    connection dropped by a firewall, while the pool held it — happens to idle connections; a
    failed ping discards every pooled connection and a fresh one is handed out.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    else:
        # A database host that hangs or drops packets fails a new connection after ``connect_timeout``
        # seconds, not after the kernel's SYN retries (≈2 min): a sync worker must not hang that long.
        engine = create_engine(url, pool_size=10, max_overflow=10, connect_args={"connect_timeout": connect_timeout})
    _ping_when_idle(engine, ping_after_idle)
    return engine


def _ping_when_idle(engine: Engine, seconds: float) -> None:
    """SQLAlchemy's pre-ping (the dialect's ``do_ping``), through the pool's documented
    ``checkout`` hook, for connections idle longer than ``seconds`` only."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # the DBAPI's own error types differ by driver
            raise exc.InvalidatePoolError(f"pooled connection failed its ping: {error}") from error


class Database:
    """Holder for the engine and session factory, bound by ``init_app``."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session_factory: sessionmaker[Session] | None = None

    def init_app(self, app: "Flask") -> None:
        self.bind(app.config["DATABASE_URL"])
        app.extensions["shuima.db"] = self

    def bind(self, url: str) -> None:
        if self.engine is not None and str(self.engine.url) == url:
            return
        if self.engine is not None:
            self.engine.dispose()
        self.engine = make_engine(url)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)

    def session(self) -> Session:
        assert self.session_factory is not None, "Database.init_app was not called"
        return self.session_factory()


class UnitOfWork:
    """One transaction: ``with uow: ...; uow.commit()``.

    Events collected with ``uow.collect(event)`` are written to the outbox inside the
    transaction and handed to the bus once the commit has succeeded.
    """

    def __init__(self, session_factory: Callable[[], Session], bus: Any = None):
        self._session_factory = session_factory
        self._bus = bus
        self.session: Session
        self.events: list[Any] = []

    def __enter__(self) -> "UnitOfWork":
        self.session = self._session_factory()
        self.events = []
        return self

    def __exit__(self, *exc: object) -> None:
        # close() rolls back whatever was not committed and detaches objects with the state
        # they had (an explicit rollback() would expire them, breaking reads after the block).
        self.session.close()

    def collect(self, event: Any) -> None:
        self.events.append(event)

    def commit(self) -> None:
        events, self.events = self.events, []
        staged = self._bus.stage(self.session, events) if events and self._bus is not None else []
        self.session.commit()
        if staged:
            self._bus.dispatch(staged)

    def rollback(self) -> None:
        self.session.rollback()
        self.events = []
