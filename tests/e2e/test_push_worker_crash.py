"""A worker killed with ``kill -9`` in the middle of a fan-out loses nothing: real processes, real Redis.

The worker process is killed with SIGKILL while a chunk job is inside its transaction: the
worker is instrumented so that its third chunk writes its delivery rows, signals through a file
and then waits, uncommitted, for the kill (watching the job from outside raced with its commit).
The sweeper then re-enqueues what was left pending or queued, a fresh worker drains the queue,
and every eligible taxpayer ends with exactly one delivered row.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from rq import Queue
from sqlalchemy import func, insert, select

from app.extensions import db, redis_store
from app.push import service, sweeper
from app.push.models import Delivery, FanoutChunk
from app.push.settings import RqJobs, push
from app.services import services
from app.taxpayers.models import Taxpayer
from tests.factories import make_uscc

ROOT = Path(__file__).resolve().parents[2]
TAXPAYERS = 12000
CHUNK = 1000
#: A worker process that runs jobs in itself (no work horse), so SIGKILL lands inside the job;
#: RQ's forking worker puts its horse in a process group of its own (setpgrp), so killing the
#: parent, even its whole group, spares a horse that is mid-job. With ``SHUIMA_HANG_AT=N`` set,
#: the N-th chunk writes its deliveries, touches ``SHUIMA_HANG_FILE`` and sleeps before its commit.
WORKER = ("import os, sys, time\n"
          "from rq import SimpleWorker\n"
          "from app import create_app\n"
          "from app.extensions import redis_store\n"
          "from app.push import fanout\n"
          "hang_at, calls, write = int(os.environ.get('SHUIMA_HANG_AT', '0')), [], fanout.write_deliveries\n"
          "def hanging_write(*args, **kwargs):\n"
          "    write(*args, **kwargs)\n"
          "    calls.append(1)\n"
          "    if len(calls) == hang_at:\n"
          "        open(os.environ['SHUIMA_HANG_FILE'], 'w').close()\n"
          "        time.sleep(600)\n"
          "fanout.write_deliveries = hanging_write\n"
          "app = create_app()\n"
          "with app.app_context():\n"
          "    SimpleWorker([os.environ['SHUIMA_QUEUE_NAME']], connection=redis_store.client)"
          ".work(burst=sys.argv[1] == 'burst')\n")


def worker_env(app, queue_name: str, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": app.config["DATABASE_URL"], "REDIS_URL": app.config["REDIS_URL"],
        "SHUIMA_SECRET_KEY": app.config["SECRET_KEY"], "SHUIMA_INSTANCE_PATH": str(tmp_path / "worker"),
        "SHUIMA_QUEUE_NAME": queue_name, "SHUIMA_PUSH_CHUNK_SIZE": str(CHUNK), "SHUIMA_PUSH_QUIET_HOURS": "off",
        "SHUIMA_LOG_JSON": "false", "SHUIMA_LOG_LEVEL": "WARNING",
    })
    return env


def seed(count: int) -> set[str]:
    """Bulk-insert taxpayers, half of them grade A or B; returns the eligible USCCs."""
    rows = [{"uscc": make_uscc(900_000 + n), "name": f"测试企业{n}", "grade": "ABCDM"[n % 5], "state": "normal",
             "created_at": datetime.now(timezone.utc)} for n in range(count)]
    with db.session() as session:
        session.execute(insert(Taxpayer), rows)
        session.commit()
    return {r["uscc"] for r in rows if r["grade"] in "AB"}


def chunk_progress(policy_id: int) -> tuple[int, int]:
    with db.session() as session:
        done = session.scalar(select(func.count()).select_from(FanoutChunk)
                              .where(FanoutChunk.policy_id == policy_id, FanoutChunk.status == "done")) or 0
        total = session.scalar(select(func.count()).select_from(FanoutChunk)
                               .where(FanoutChunk.policy_id == policy_id)) or 0
    return done, total


@pytest.mark.slow
def test_worker_killed_mid_fanout_then_sweeper_leaves_exactly_one_delivery_each(app, tmp_path):
    queue_name = f"push-crash-{os.getpid()}"
    env = worker_env(app, queue_name, tmp_path)
    with app.app_context():
        eligible = seed(TAXPAYERS)
        queue = Queue(queue_name, connection=redis_store.client)
        jobs = RqJobs(lambda: queue)
        s = services()
        pid = service.create_policy({"title": "银税互动贷款", "body": "A、B级纳税人可申请信用贷款。", "category": "loan_offer",
                                     "rule": {"in": [{"var": "grade"}, ["A", "B"]]}}, created_by="admin",
                                    uow=s.uow(), clock=s.clock)["id"]
        service.publish_policy(pid, by="admin", uow=s.uow(), clock=s.clock, jobs=jobs)

        hang_file = tmp_path / "third-chunk-written"
        worker = subprocess.Popen([sys.executable, "-c", WORKER, "forever"], cwd=ROOT,
                                  env={**env, "SHUIMA_HANG_AT": "3", "SHUIMA_HANG_FILE": str(hang_file)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not hang_file.exists() and worker.poll() is None:
                time.sleep(0.01)
            assert hang_file.exists(), "the worker never reached its third chunk"
        finally:
            os.kill(worker.pid, signal.SIGKILL)  # inside the third chunk's transaction
            worker.wait(timeout=10)
        done, total = chunk_progress(pid)
        assert (done, total) == (2, TAXPAYERS // CHUNK), "the kill must land mid-fan-out"
        assert queue.count == total - done - 1, "the chunk job in flight is lost with the worker"

        # The sweeper runs once the lease has run out (its clock is moved instead of waiting 2 minutes).
        later = datetime.now(timezone.utc) + push().settings.sweep_after + timedelta(seconds=1)
        swept = sweeper.tick(session_factory=db.session, settings=push().settings, jobs=jobs, now=later)
        assert swept["chunks_requeued"] == total - done
        subprocess.run([sys.executable, "-c", WORKER, "burst"], cwd=ROOT, env=env, check=True, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        with db.session() as session:
            got = session.execute(select(Delivery.uscc, Delivery.status).where(Delivery.policy_id == pid)).all()
        assert sorted(u for u, _ in got) == sorted(eligible)  # exactly one row per eligible taxpayer
        assert {status for _, status in got} == {"delivered"}
        assert chunk_progress(pid) == (total, total)
