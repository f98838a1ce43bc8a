"""Writing the verification audit trail: one row per scan, in the request, committed before the answer."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from app.codes.models import Verification

#: Built once: a statement construct holds no connection (no I/O at import time).
_INSERT = insert(Verification.__table__)


class VerificationAudit(Protocol):
    """Where verification audit rows go (the database; a test may pass its own)."""

    def record(self, row: dict[str, Any]) -> None: ...


class SqlAlchemyVerificationAudit:
    """Appends audit rows with a Core ``INSERT`` on a connection of its own.

    No ORM session: for one append-only row, ``Session`` set-up, flush bookkeeping and close
    cost more CPU than the statement itself (loadtests/bench.py, docs/performance.md).
    """

    def __init__(self, engine: Engine):
        self._engine = engine

    def record(self, row: dict[str, Any]) -> None:
        """Insert and commit one row; raises the database's error if it cannot."""
        with self._engine.begin() as conn:
            conn.execute(_INSERT, row)
