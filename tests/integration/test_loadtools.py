"""The load-test tools against real processes and a real database: the benchmark finds a master's
workers, the scratch back ends clean up after themselves, and the log-in stream keeps its pace.
(The seed's own tests are in test_seed.py.)"""

from __future__ import annotations

import builtins
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from app.services import services
from app.taxpayers.models import Taxpayer
from loadtests import bench
from loadtests.processes import stop
from loadtests.scratch import scratch

MASTER = """
import subprocess, sys, time
children = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(2)]
print(" ".join(str(child.pid) for child in children), flush=True)
time.sleep(60)
"""


@pytest.fixture
def master_and_workers() -> Iterator[tuple[subprocess.Popen, list[int]]]:
    """A process with two children, like a gunicorn master and its workers."""
    master = subprocess.Popen([sys.executable, "-c", MASTER], stdout=subprocess.PIPE, text=True)
    try:
        workers = sorted(int(pid) for pid in master.stdout.readline().split())  # type: ignore[union-attr]
        yield master, workers
    finally:
        for pid in workers:
            subprocess.run(["kill", str(pid)], check=False)
        stop(master, grace=2)
        master.stdout.close()  # type: ignore[union-attr]


def test_the_workers_of_a_master_are_its_children(master_and_workers):
    master, workers = master_and_workers
    assert bench.worker_pids(master.pid) == workers
    assert sorted(bench.worker_cpu(master.pid)) == workers


def test_the_workers_are_found_without_the_kernels_children_files(master_and_workers, monkeypatch):
    def no_children_file(path, *args, **kwargs):  # a kernel without CONFIG_PROC_CHILDREN
        if str(path).endswith("/children"):
            raise FileNotFoundError(path)
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(bench, "open", no_children_file, raising=False)
    master, workers = master_and_workers
    assert bench.worker_pids(master.pid) == workers


def test_a_pid_that_is_not_running_has_no_workers():
    assert bench.worker_pids(2**22 + 1) == []  # above Linux's largest pid_max: never a live process


def test_scratch_gives_a_migrated_sqlite_database_and_removes_its_directory():
    with scratch("shuima-test-scratch-") as sc:
        workdir = sc.workdir
        assert sc.backend == "sqlite" and (workdir / "bench.db").exists()
        with sc.create_app().app_context():
            with services().uow() as uow:
                assert uow.session.scalar(select(func.count()).select_from(Taxpayer)) == 0
    assert not workdir.exists()


# --- the log-in stream beside a paced row (bench --login-rate) ---------------------------------


@pytest.fixture
def token_endpoint() -> Iterator[tuple[int, list[dict]]]:
    """A stand-in for ``POST /api/v1/auth/token`` on a loopback port: 200 for the password "right"."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append({"path": self.path, **body})
            self.send_response(200 if body["password"] == "right" else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def test_the_login_stream_logs_in_the_seeded_accounts_in_turn(token_endpoint):
    import time

    port, received = token_endpoint
    with bench.LoginStream(port, ["lt-tp-0", "lt-tp-1", "lt-tp-2"], "right", rate=40) as logins:
        deadline = time.monotonic() + 10
        while len(received) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert logins.ok == len(received) >= 6 and logins.failed == 0
    assert {r["path"] for r in received} == {"/api/v1/auth/token"}
    names = sorted(r["username"] for r in received)
    assert set(names) == {"lt-tp-0", "lt-tp-1", "lt-tp-2"}  # every account in turn, not one reused


def test_the_login_stream_keeps_to_its_schedule_and_reports_the_rate_it_achieved(token_endpoint):
    import time

    port, received = token_endpoint
    with bench.LoginStream(port, ["lt-tp-0"], "right", rate=20) as logins:
        time.sleep(1.0)
    # paced, not flooded: within a second at 20/s the four senders send at most 20 + 4 log-ins,
    # whatever the stand-in's speed (a slow machine only sends fewer)
    assert 1 <= len(received) <= 24
    # the rate it reports is what the server received over the time it ran
    assert logins.ok == len(received) and logins.achieved == len(received) / logins.seconds


def test_the_login_stream_counts_refused_log_ins(token_endpoint):
    import time

    port, received = token_endpoint
    with bench.LoginStream(port, ["lt-tp-0"], "wrong", rate=40) as logins:
        deadline = time.monotonic() + 10
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert logins.failed == len(received) >= 2 and logins.ok == 0


@pytest.fixture
def floors(redis_url: str, tmp_path, monkeypatch) -> Iterator[tuple[object, object]]:
    """The yardstick app with a Redis of its own keys and a SQLite file of its own."""
    import redis as redis_lib

    from loadtests import hello

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'floor.db'}")
    hello._redis.cache_clear()
    hello._engine.cache_clear()
    client = redis_lib.Redis.from_url(redis_url)
    try:
        yield hello, hello.app.test_client()
    finally:
        client.delete(*(client.keys("{floor*") or ["{floor}:none"]))
        hello._redis.cache_clear()
        hello._engine.cache_clear()


def test_the_code_floor_reads_the_shared_cache_and_fills_a_key_once(floors):
    hello, client = floors
    first = [client.get("/floor/code").json["cached"] for _ in range(hello._KEYS)]
    again = [client.get("/floor/code").json["cached"] for _ in range(3)]
    assert first.count(False) == hello._KEYS  # every key missed once and was filled
    assert again == [True, True, True]
    assert len(hello._redis().get("{floor:0}:code")) == 700


def test_the_verification_floor_counts_and_commits_one_audit_row_per_request(floors):
    hello, client = floors
    answers = [client.get("/floor/verification").json for _ in range(5)]
    assert [a["count"] for a in answers] == [1, 2, 3, 4, 5]
    with hello._engine().connect() as conn:
        rows = conn.execute(select(func.count()).select_from(hello._floor_audit)).scalar_one()
    assert rows == 5
    assert client.get("/hello").json == {"hello": "world"}


def test_the_floor_table_made_by_another_worker_meanwhile_is_used(floors, monkeypatch):
    """Each gunicorn worker makes the table on its first request: losing that race is no error."""
    import os

    from sqlalchemy.exc import OperationalError

    from app.db import make_engine

    hello, client = floors
    hello._floor_audit.create(make_engine(os.environ["DATABASE_URL"]))

    def too_late(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("CREATE TABLE bench_floor_audit", {}, Exception("table already exists"))

    monkeypatch.setattr(hello._floor_audit, "create", too_late)
    assert client.get("/floor/verification").json["count"] == 1
