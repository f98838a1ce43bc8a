"""Migrations and logs against real services (rate limits: test_rate_limiter.py)."""

from __future__ import annotations

import logging
import os
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db import Base, bulk_insert
from app.extensions import db
from app.models import import_all_models
from app.ops.logging import MaskIdentifiers, configure_logging, mask_identifiers
from app.services import services
from app.taxpayers.models import Taxpayer
from tests.factories import make_uscc


def test_migrations_build_exactly_the_models_schema(app):
    import_all_models()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_a_sqlite_database_holding_data_migrates_to_the_latest_revision_and_back(tmp_path):
    """SQLite rebuilds a table to alter it; with foreign keys on, the DROP of a table that other rows
    point at failed and left the database stuck at the older revision (0003 → 0004, taxpayers)."""
    from alembic import command
    from sqlalchemy import text

    from app.db import make_engine
    from app.migrate import alembic_config, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    engine = make_engine(url)  # foreign keys on, as the app runs
    uscc = make_uscc(77)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO grade_imports (id, filename, imported_by, started_at, rows, created, changed, "
                          "unchanged, rejected, errors) VALUES (1, 'g.csv', 'x', '2026-01-01 00:00:00', 1, 1, 0, 0, "
                          "0, '[]')"))
        conn.execute(text("INSERT INTO taxpayers (uscc, name, state, created_at) "
                          "VALUES (:u, '甲公司', 'normal', '2026-01-01 00:00:00')"), {"u": uscc})
        conn.execute(text("INSERT INTO grade_records (uscc, year, grade, state, reason, source, import_id, changed_by, "
                          "effective_at) VALUES (:u, 2025, 'A', 'normal', 'r', 'import', 1, 'x', "
                          "'2026-01-01 00:00:00')"), {"u": uscc})
    upgrade(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT changed_by_import_id, status_version FROM taxpayers")).one() == (1, 1)
    command.downgrade(alembic_config(url), "0003")
    upgrade(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM grade_records")).scalar() == 1
    engine.dispose()


def test_a_sqlite_migration_that_leaves_dangling_foreign_keys_fails_loudly(tmp_path):
    """Foreign keys are off while SQLite migrates (a table rebuild must drop the old table): the
    check afterwards refuses to call a database with rows pointing nowhere migrated."""
    from sqlalchemy import text

    from app.db import make_engine
    from app.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'dangling.db'}"
    upgrade(url, "0005")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # as a hand edit or an older tool might have left it
        conn.execute(text("INSERT INTO users (username, password_hash, role, bank_id, active, created_at) "
                          "VALUES ('ghost', 'x', 'clerk', 999, 1, '2026-01-01 00:00:00')"))
    engine.dispose()
    with pytest.raises(RuntimeError, match="foreign keys point nowhere"):
        upgrade(url)


def test_logs_never_carry_a_full_identifier(caplog):
    logger = logging.getLogger("test.masking")
    logger.addFilter(MaskIdentifiers())
    with caplog.at_level(logging.INFO, logger="test.masking"):
        logger.info("verified %s for person %s", "91350100M000100Y43", "110105194912310029")
    assert caplog.records[0].getMessage() == "verified 9135************43 for person 1101************29"
    assert mask_identifiers("order 12345 ok") == "order 12345 ok"
    # an identifier that is the whole field (an extra such as ``uscc``): exactly 18 characters
    assert mask_identifiers("91350100M000100Y43") == "9135************43"
    assert mask_identifiers("110105194912310029") == "1101************29"
    # the API accepts a USCC in lower case, so its paths can carry one
    assert mask_identifiers("GET /api/v1/taxpayers/91350100m000100y43 200") == \
        "GET /api/v1/taxpayers/9135************43 200"


def test_log_records_keep_the_fields_other_handlers_print():
    configure_logging("INFO", json_lines=True)
    try:
        gunicorn_style = logging.Formatter("%(asctime)s [%(process)d] [%(levelname)s] %(message)s")
        record = logging.getLogger("gunicorn.error").makeRecord("gunicorn.error", logging.INFO, "", 0,
                                                                "Booting worker", (), None)
        assert f"[{os.getpid()}] [INFO] Booting worker" in gunicorn_style.format(record)
    finally:
        configure_logging("INFO", json_lines=False)  # not left bound to this test's captured stderr


def test_tracebacks_in_logs_are_masked_too(caplog):
    logger = logging.getLogger("test.masking.tb")
    logger.addFilter(MaskIdentifiers())
    with caplog.at_level(logging.ERROR, logger="test.masking.tb"):
        try:
            raise ValueError("duplicate key uscc=91350100M000100Y43")
        except ValueError:
            logger.exception("insert failed")
    record = caplog.records[0]
    assert record.exc_info is None and "9135************43" in record.exc_text
    assert "91350100M000100Y43" not in record.exc_text


# --- bulk_insert: COPY on PostgreSQL, executemany elsewhere (both suites run this) ------------


def _firm(uscc: str, **extra):
    beijing = timezone(timedelta(hours=8))
    return {"uscc": uscc, "name": f"甲乙\t商贸, \"有限\"\\公司 {uscc[-3:]}", "region_code": None, "industry_code": "F51",
            "registered_on": date(2019, 3, 1), "size_class": None, "grade": "A", "state": "normal",
            "score": Decimal("91.50"), "grade_year": 2025,
            "grade_changed_at": datetime(2026, 4, 1, 17, 30, tzinfo=beijing),
            "created_at": datetime(2026, 4, 1, 9, 30, tzinfo=timezone.utc), **extra}


def _stored(app, uscc: str) -> Taxpayer | None:
    with app.app_context(), services().uow() as uow:
        return uow.session.get(Taxpayer, uscc)


def test_bulk_insert_stores_every_value_as_an_insert_would(app):
    usccs = [make_uscc(7_100_000 + n) for n in range(3)]
    rows = [_firm(usccs[0]), _firm(usccs[1], score=None, grade=None, state="unrated", registered_on=None),
            _firm(usccs[2], name="‘引号’ and \\N literally")]
    with app.app_context(), services().uow() as uow:
        bulk_insert(uow.session, Taxpayer.__table__, rows)
        bulk_insert(uow.session, Taxpayer.__table__, [])  # nothing to do, no statement
        uow.commit()
    first, second, third = (_stored(app, u) for u in usccs)
    assert first.name == rows[0]["name"] and third.name == "‘引号’ and \\N literally"
    assert first.score == Decimal("91.50") and first.registered_on == date(2019, 3, 1)
    assert first.grade_changed_at == datetime(2026, 4, 1, 9, 30, tzinfo=timezone.utc)  # 17:30 in Beijing
    assert first.region_code is None and first.size_class is None
    assert (second.score, second.grade, second.registered_on, second.state) == (None, None, None, "unrated")


def test_bulk_insert_copies_on_postgresql_with_the_constant_defaults_rows_leave_out(app):
    """Rows without ``status_version`` (default 1, a constant) still go through ``COPY``: no INSERT."""
    from sqlalchemy import event

    from app.extensions import db

    if db.engine.dialect.name != "postgresql":  # type: ignore[union-attr]
        pytest.skip("COPY is PostgreSQL's; elsewhere bulk_insert is an executemany INSERT")
    uscc = make_uscc(7_100_030)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with app.app_context(), services().uow() as uow:
            bulk_insert(uow.session, Taxpayer.__table__, [_firm(uscc)])
            uow.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert not [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert _stored(app, uscc).status_version == 1


def test_bulk_insert_refuses_a_naive_time_like_an_insert(app):
    uscc = make_uscc(7_100_010)
    with app.app_context(), services().uow() as uow:
        with pytest.raises(Exception, match="naive datetime"):
            bulk_insert(uow.session, Taxpayer.__table__, [_firm(uscc, grade_changed_at=datetime(2026, 4, 1, 9, 30))])
    assert _stored(app, uscc) is None


def test_bulk_insert_fills_python_side_defaults_that_rows_leave_out(app):
    uscc = make_uscc(7_100_020)
    row = _firm(uscc)
    del row["created_at"], row["state"]  # both have defaults in the model: utcnow and "unrated"
    with app.app_context(), services().uow() as uow:
        bulk_insert(uow.session, Taxpayer.__table__, [row])
        uow.commit()
    stored = _stored(app, uscc)
    assert stored is not None and stored.state == "unrated" and stored.created_at is not None
