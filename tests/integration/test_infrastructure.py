"""Migrations and logs against real services (rate limits: test_rate_limiter.py)."""

from __future__ import annotations

import logging
import os

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db import Base
from app.extensions import db
from app.models import import_all_models
from app.ops.logging import MaskIdentifiers, configure_logging, mask_identifiers


def test_migrations_build_exactly_the_models_schema(app):
    import_all_models()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


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


def test_log_records_keep_the_fields_other_handlers_print():
    configure_logging("INFO", json_lines=True)
    gunicorn_style = logging.Formatter("%(asctime)s [%(process)d] [%(levelname)s] %(message)s")
    record = logging.getLogger("gunicorn.error").makeRecord("gunicorn.error", logging.INFO, "", 0, "Booting worker",
                                                            (), None)
    assert f"[{os.getpid()}] [INFO] Booting worker" in gunicorn_style.format(record)


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
