"""Time one policy matching every taxpayer: publish → every inbox row delivered, with N workers.

    .venv/bin/python -m loadtests.bench_push --taxpayers 300000 --workers 2 [--database-url URL]

Seeds the taxpayers with bulk inserts (no importer, no events), starts ``--workers`` real
``python -m workers.main`` processes, publishes a policy whose rule matches everyone (compiled to
SQL like any other) and polls until every inbox row is ``delivered``. Uses an embedded Valkey
unless REDIS_URL is set and a fresh SQLite file unless --database-url is given. A PostgreSQL
database given here is emptied first (its public schema is dropped): use a scratch database.
Quiet hours are switched off for the run (``SHUIMA_PUSH_QUIET_HOURS=off``) so the figures do
not depend on the time of day. The last line of the output, ``BENCH {json}``, carries the
figures for ``loadtests.bench``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date, datetime, timezone

from loadtests.population import population
from loadtests.processes import ROOT, base_env, stop
from loadtests.scratch import print_bench_line, scratch

EVERYONE = {"or": [{"==": [{"var": "state"}, "normal"]}, {"!=": [{"var": "state"}, "normal"]}]}


def seed(url: str, count: int) -> float:
    """Bulk-insert ``count`` taxpayers (``app.db.bulk_insert``: COPY on PostgreSQL); returns seconds taken."""
    from sqlalchemy.orm import Session

    from app.db import bulk_insert, make_engine
    from app.taxpayers.models import Taxpayer

    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    batch: list[dict] = []
    with Session(engine) as session, session.begin():
        for row in population(count):
            batch.append({"uscc": row["uscc"], "name": row["name"], "grade": row["grade"] or None,
                          "state": row["state"],
                          "region_code": row["region"], "industry_code": row["industry"], "size_class": row["size"],
                          "registered_on": date.fromisoformat(row["registered_on"]), "grade_year": int(row["year"]),
                          "created_at": now})
            if len(batch) == 20000:
                bulk_insert(session, Taxpayer, batch)
                batch = []
        bulk_insert(session, Taxpayer, batch)
    engine.dispose()
    return time.perf_counter() - started


def counts(policy_id: int) -> tuple[int, int, int]:
    """(rows written, rows delivered, chunks done) for the policy."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.push.models import Delivery, FanoutChunk

    with db.session() as session:
        rows = session.execute(select(Delivery.status, func.count()).where(Delivery.policy_id == policy_id)
                               .group_by(Delivery.status)).all()
        chunks = session.scalar(select(func.count()).select_from(FanoutChunk)
                                .where(FanoutChunk.policy_id == policy_id, FanoutChunk.status == "done")) or 0
    by_status = dict(rows)
    return sum(by_status.values()), by_status.get("delivered", 0), chunks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taxpayers", type=int, default=300_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=2000, help="taxpayers per fan-out job")
    parser.add_argument("--database-url")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)

    from app.push import service
    from app.push.settings import push
    from app.services import services

    workers: list[subprocess.Popen] = []
    with scratch("shuima-bench-push-", args.database_url, reset=True) as sc:
        try:
            seconds = seed(sc.database_url, args.taxpayers)
            print(f"seeded {args.taxpayers:,} taxpayers in {seconds:.1f} s ({args.taxpayers / seconds:,.0f} rows/s)")
            queue = f"bench-push-{os.getpid()}"
            app = sc.create_app(PUSH_CHUNK_SIZE=args.chunk, PUSH_QUIET_HOURS="off", QUEUE_NAME=queue)
            env = base_env(DATABASE_URL=sc.database_url, REDIS_URL=sc.redis_url, SHUIMA_INSTANCE_PATH=str(sc.workdir),
                           SHUIMA_PUSH_CHUNK_SIZE=str(args.chunk), SHUIMA_PUSH_QUIET_HOURS="off",
                           SHUIMA_LOG_LEVEL="WARNING", SHUIMA_QUEUE_NAME=queue)
            log = open(sc.workdir / "workers.log", "ab")  # noqa: SIM115 - closed with the processes
            for _ in range(args.workers):
                workers.append(subprocess.Popen([sys.executable, "-m", "workers.main"], cwd=ROOT, env=env, stdout=log,
                                                stderr=log))
            time.sleep(3)  # let the workers import and connect before the clock starts
            with app.app_context():
                s = services()
                policy = service.create_policy({"title": "小微企业“六税两费”减免政策", "body": "正文",
                                                "category": "tax_relief", "rule": EVERYONE},
                                               created_by="bench", uow=s.uow(), clock=s.clock)
                started = time.perf_counter()
                service.publish_policy(policy["id"], by="bench", uow=s.uow(), clock=s.clock, jobs=push().jobs)
                written_at = None
                while time.perf_counter() - started < args.timeout:
                    written, delivered, chunks = counts(policy["id"])
                    if written_at is None and written >= args.taxpayers:
                        written_at = time.perf_counter() - started
                    print(f"\r  {time.perf_counter() - started:6.1f} s  rows {written:,}  delivered {delivered:,}  "
                          f"chunks {chunks:,}", end="", file=sys.stderr)
                    if delivered >= args.taxpayers:
                        break
                    time.sleep(0.25)
                elapsed = time.perf_counter() - started
                print(file=sys.stderr)
            print(f"backend={sc.backend} taxpayers={args.taxpayers:,} workers={args.workers} chunk={args.chunk}")
            print(f"publish → all rows written   {written_at or float('nan'):6.1f} s")
            print(f"publish → all inbox delivered {elapsed:6.1f} s  ({delivered / elapsed:,.0f} deliveries/s)")
            print_bench_line({"backend": sc.backend, "taxpayers": args.taxpayers, "workers": args.workers,
                              "seed_s": round(seconds, 2), "written_s": written_at and round(written_at, 2),
                              "delivered_s": round(elapsed, 2), "delivered": delivered})
            return 0 if delivered >= args.taxpayers else 1
        finally:
            for worker in workers:  # before the embedded Valkey they talk to goes
                stop(worker)


if __name__ == "__main__":
    sys.exit(main())
