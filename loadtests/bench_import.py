"""Time the yearly grade import: N rows into an empty database, then the same file again.

    .venv/bin/python -m loadtests.bench_import --rows 300000 [--database-url URL]

Uses an embedded Valkey unless REDIS_URL is set, and a fresh SQLite file unless
--database-url is given (that database's tables are created by the migrations).
"""

from __future__ import annotations

import argparse
import sys
import time

from loadtests.population import population_csv
from loadtests.scratch import scratch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)

    from app.services import services
    from app.taxpayers.importer import import_grades

    with scratch("shuima-bench-", args.database_url) as sc:
        app = sc.create_app()
        started = time.perf_counter()
        data = population_csv(args.rows)
        generated = time.perf_counter() - started
        print(f"generated {args.rows:,} rows ({len(data) / 1e6:.1f} MB) in {generated:.1f} s", file=sys.stderr)
        with app.app_context():
            s = services()
            for label in ("first load", "same file again"):
                started = time.perf_counter()
                report = import_grades(data, filename="bench.csv", imported_by="bench", uow=s.uow(),
                                       cache=s.status_cache, clock=s.clock, chunk_rows=s.import_chunk_rows,
                                       progress=lambda done, total: print(f"\r  {label}: {done:,}/{total:,}",
                                                                          end="", file=sys.stderr))
                elapsed = time.perf_counter() - started
                print(file=sys.stderr)
                print(f"{label:<16} {elapsed:6.1f} s  {args.rows / elapsed:9,.0f} rows/s  created={report.created:,} "
                      f"changed={report.changed:,} unchanged={report.unchanged:,} rejected={report.rejected:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
