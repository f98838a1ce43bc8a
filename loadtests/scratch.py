"""Throwaway back ends for the benchmark scripts, and the ``BENCH {json}`` line they report through.

``bench``, ``bench_import``, ``bench_push``, ``bench_rural`` and ``hotpath`` all need the same
set-up: a work directory, a migrated database (a fresh SQLite file in that directory unless a URL
is given), a Redis (``REDIS_URL``, else an embedded Valkey whose files live in the work directory)
and an app over them. ``scratch()`` makes all of it and takes it down again, however the block ends.

A script run by ``bench.py`` hands its figures back as the last ``BENCH {json}`` line of its
standard output (``print_bench_line`` / ``read_bench_line``); ``bench.lua`` writes the same line
for wrk.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from flask import Flask

from app.clock import Clock

BENCH_PREFIX = "BENCH "


@dataclass(frozen=True)
class Scratch:
    """The work directory, database URL and Redis URL of one benchmark run."""

    workdir: Path
    database_url: str
    redis_url: str

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql`` (the dialect, without the driver)."""
        return self.database_url.split(":", 1)[0].split("+", 1)[0]

    def create_app(self, clock: Clock | None = None, **config: Any) -> Flask:
        """The service app over these back ends; ``config`` adds or overrides settings."""
        from app import create_app

        return create_app({"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url,
                           "INSTANCE_PATH": str(self.workdir), "LOG_JSON": False, "LOG_LEVEL": "WARNING", **config},
                          clock=clock)


@contextmanager
def scratch(prefix: str, database_url: str | None = None, *, reset: bool = False,
            keep: bool = False) -> Iterator[Scratch]:
    """A fresh work directory, a migrated database and a Redis for the ``with`` block.

    ``database_url`` (else ``<workdir>/bench.db``) is migrated to head; with ``reset`` a PostgreSQL
    database's public schema is dropped first (destructive: use a scratch database). On the way out
    the embedded Valkey, if one was started, is stopped and the work directory removed, unless
    ``keep`` (then its path goes to stderr).
    """
    from app.config import normalize_database_url
    from app.embedded_redis import EmbeddedValkey
    from app.migrate import reset_postgres, upgrade

    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    valkey = None
    try:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            valkey = EmbeddedValkey(str(workdir / "valkey")).start()
            redis_url = valkey.connection_url
        url = normalize_database_url(database_url or f"sqlite:///{workdir}/bench.db")
        if reset and url.startswith("postgresql"):
            reset_postgres(url)
        upgrade(url)
        yield Scratch(workdir, url, redis_url)
    finally:
        if valkey is not None:
            valkey.stop()
        if keep:
            print(f"work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def print_bench_line(figures: dict[str, Any]) -> None:
    """Write ``figures`` as the ``BENCH {json}`` line that ``bench.py`` reads."""
    print(BENCH_PREFIX + json.dumps(figures), flush=True)


def read_bench_line(output: str) -> dict[str, Any] | None:
    """The figures of the last ``BENCH {json}`` line in ``output``, or None when there is none."""
    line = next((line for line in reversed(output.splitlines()) if line.startswith(BENCH_PREFIX)), None)
    return json.loads(line[len(BENCH_PREFIX):]) if line is not None else None
