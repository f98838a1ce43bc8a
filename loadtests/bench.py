"""Benchmarks that keep us honest: the service's hot paths as ratios of a bare Flask app.

    .venv/bin/python -m loadtests.bench [--taxpayers 300000] [--duration 10] [--rounds 3]
                                        [--configs gthread:2:4,sync:3:1]

One run, one machine, one gunicorn configuration for both servers:

1. seeds a fresh database with the load-test population (wall time of the 300,000-row grade
   import, of the whole seed, and of running it again);
2. starts Shuima under gunicorn with the production settings (``gunicorn.conf.py``; logging at
   INFO, the production default: one access-log line per request, into the run's
   ``service.log``) and a bare Flask "hello" app (``loadtests/hello.py``) under the same
   settings, side by side;
3. drives both with ``wrk`` (C, event loop, one thread: it needs a small fraction of a core
   where a Python client would need more CPU than the server it measures) and a Lua script
   (``bench.lua``) that rotates credentials and code tokens and checks every answer: each row is
   a 2 s warm-up, then ``--rounds`` measured runs of ``--duration`` seconds (below);
4. renders badges with the fast and the naive renderer in this process, interleaved;
5. measures Redis memory per taxpayer with ``MEMORY USAGE`` on real keys;
6. after the servers have stopped, the long rows: push fan-out to ``--push-taxpayers`` inboxes
   with 2 RQ workers (``loadtests/bench_push.py``) and rating ``--rural-households`` households
   end to end (``loadtests/bench_rural.py``), each run as its own process on its own database;
   ``--skip-long`` leaves them out (they add about a minute at full scale);
7. prints a table, saves it with the options and the commit to
   ``loadtests/reports/bench-<stamp>.json`` (git-ignored) for later comparison, and exits 1 when a
   ratio misses its target.

Rounds, spread, CPU per request, split. wrk's keep-alive connections are accepted by whichever
gunicorn worker wakes first, often most of them by one worker, and that split holds for the
whole run: a single run can be 2× off either way, for hello and for the service independently
(docs/performance.md, "Why single runs disagree by 2×"). Both servers therefore get a
``--worker-connections`` cap of connections ÷ workers (``balanced``), which leaves each worker
exactly its share; and every row is measured in
``--rounds`` (3) runs, each a fresh wrk process with fresh connections and so a fresh split:

* throughput rows report the best round (an uneven split can only lower throughput, so the
  best round is the closest to the machine's capacity) and show the spread (min–max req/s);
* the paced row (the p99 at 70 % of the best verification rate) reports the median p99 of its
  rounds and checks the target on that median;
* bad answers are counted over all rounds; any bad answer fails the row.

Around every round the CPU time (utime + stime, ``/proc/<pid>/stat``) of each worker of the
server (the children of the gunicorn master) is read. Each row shows the workers' CPU per
request (median over the rounds) and the split of its reported round: the busiest worker's share
of the workers' CPU (50 % is even with two workers; near 100 % means one worker did nearly all
the work). The informational rows "worker CPU per request, service / hello" give hello's CPU
per request divided by the service's, for verification and code fetch: what the throughput
ratio would be with both servers CPU-bound and evenly split, a figure far less sensitive to the
split than throughput (not immune: a round where one worker holds every connection has been seen
to cost more CPU per request, probably its threads contending for the GIL; the split column shows
when that happened).
Each round's figures go to stderr as it finishes. With the defaults the HTTP rows take about
3.7 minutes (7 measurements × (2 s + 3 × 10 s)).

Two *floor* rows (``loadtests/hello.py``) measure, on the hello server, bare Flask making only
the I/O a code fetch (one Redis round trip) or a verification (a pipelined round trip and a
committed audit ``INSERT``) cannot do without; each shows the service's share of its floor.

The per-clerk verification limit (``SHUIMA_VERIFY_RATE_LIMIT``, 120/min) is raised for the run:
wrk replays the 1,000 seeded clerks' credentials at hundreds of requests per second. The
limiter still runs on every request (one Redis script call), so its cost is measured, only
its ceiling is lifted.

``--login-rate N`` adds one more paced verification row: the same 70 % load while N
log-ins a second (seeded accounts, the production argon2id cost) run beside it, as in the peak
hour of the capacity model, where password hashing is most of the work. It shows what the
worker class does to the verification tail when slow, CPU-heavy requests share the workers.

``--configs`` measures hello, verification, code fetch and the floors under several gunicorn worker
settings (``class:workers:threads``) instead of the full run; that is how the production
settings in ``gunicorn.conf.py`` were chosen (docs/performance.md).

Needs ``wrk`` (Debian: ``apt-get install -y wrk``). Uses an embedded Valkey unless REDIS_URL is
set, and a fresh SQLite file unless --database-url is given (its tables are dropped first).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from loadtests.processes import ROOT, base_env, free_port, gunicorn_settings, start_gunicorn, stop, wait_http
from loadtests.scratch import read_bench_line, scratch

LUA = Path(__file__).with_name("bench.lua")
#: Targets of issue 5 (ratios within one run).
VERIFY_RATIO, CODE_RATIO, BADGE_RATIO, P99_MS, PACED_SHARE = 0.5, 0.5, 10.0, 25.0, 0.7


@dataclass
class Row:
    what: str
    figure: str
    versus: str = ""
    ratio: float | None = None
    target: str = ""
    ok: bool | None = None


@dataclass
class WrkResult:
    """One wrk run; the worker CPU fields are filled in by ``Bench.measure`` (None: not measured)."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int
    #: CPU seconds (user + system) each gunicorn worker used during the run, busiest first.
    worker_cpu_s: tuple[float, ...] = ()

    @property
    def cpu_ms_per_request(self) -> float | None:
        """All workers' CPU time per answered request, in ms."""
        total = sum(self.worker_cpu_s)
        return total * 1000 / self.requests if total > 0 and self.requests else None

    @property
    def split_pct(self) -> float | None:
        """The busiest worker's share of the workers' CPU time, in % (50 % = even with two workers)."""
        total = sum(self.worker_cpu_s)
        return max(self.worker_cpu_s) / total * 100 if total > 0 else None


@dataclass
class Measurement:
    """The measured rounds of one wrk setting and the figures reported from them.

    Unpaced (throughput): the best-throughput round is reported, since an uneven split of the
    keep-alive connections over the workers can only lower throughput. Paced: the median p50,
    p99 and rate over the rounds, the higher middle value when the count is even (the p99 judged
    is then that of the round whose split is shown). Bad answers are counted over all rounds.
    """

    rounds: list[WrkResult]
    paced: bool = False

    @property
    def reported(self) -> WrkResult:
        """The round whose split and figures are shown: the fastest, or (paced) the median-p99 one."""
        if self.paced:
            return sorted(self.rounds, key=lambda r: r.p99_ms)[len(self.rounds) // 2]
        return max(self.rounds, key=lambda r: r.rps)

    def _figure(self, name: str) -> float:
        if self.paced:
            return statistics.median_high(getattr(r, name) for r in self.rounds)
        return getattr(self.reported, name)

    @property
    def rps(self) -> float:
        return self._figure("rps")

    @property
    def p50_ms(self) -> float:
        return self._figure("p50_ms")

    @property
    def p99_ms(self) -> float:
        return self._figure("p99_ms")

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.rounds)

    @property
    def bad(self) -> int:
        return sum(r.bad for r in self.rounds)

    @property
    def cpu_ms_per_request(self) -> float | None:
        """The median over the rounds of the workers' CPU time per request, in ms."""
        values = [v for v in (r.cpu_ms_per_request for r in self.rounds) if v is not None]
        return statistics.median(values) if values else None

    @property
    def split_pct(self) -> float | None:
        return self.reported.split_pct

    def details(self) -> str:
        """E.g. "spread 1,900–3,100 req/s; 0.41 ms CPU/req; split 52 %" (paced: the p99 spread)."""
        if self.paced:
            p99s = [r.p99_ms for r in self.rounds]
            parts = [f"p99 spread {min(p99s):.1f}–{max(p99s):.1f} ms"]
        else:
            rates = [r.rps for r in self.rounds]
            parts = [f"spread {min(rates):,.0f}–{max(rates):,.0f} req/s"]
        if len(self.rounds) == 1:
            parts = []
        if self.cpu_ms_per_request is not None:
            parts.append(f"{self.cpu_ms_per_request:.2f} ms CPU/req")
        if self.split_pct is not None:
            parts.append(f"split {self.split_pct:.0f} %")
        return "; ".join(parts)


def _stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (which may hold spaces): state, ppid…"""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def worker_pids(master: int) -> list[int]:
    """The child processes of a gunicorn master: its workers.

    From ``/proc/<master>/task/*/children`` where the kernel has it (CONFIG_PROC_CHILDREN), else
    by scanning ``/proc/*/stat`` for that parent pid.
    """
    pids: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{master}/task"):
            with open(f"/proc/{master}/task/{task}/children") as f:
                pids.update(int(pid) for pid in f.read().split())
        return sorted(pids)
    except OSError:
        pids.clear()
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit():
            try:
                if int(_stat_fields(int(entry))[1]) == master:
                    pids.add(int(entry))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile, or not readable
    return sorted(pids)


def worker_cpu(master: int) -> dict[int, float]:
    """CPU seconds (utime + stime, all threads) each worker of the gunicorn ``master`` has used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {}
    for pid in worker_pids(master):
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return cpu


def _option(args: list[str], *names: str) -> str | None:
    """The value of a gunicorn command-line option in ``args`` (``-w 3``, ``--workers=3``), or None."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1:]
    return None


def balanced(gunicorn_args: list[str], connections: int) -> list[str]:
    """``gunicorn_args`` plus a per-worker connection cap that spreads wrk's connections evenly.

    gthread workers accept until they hold ``worker_connections``; with gunicorn's default (1,000)
    the worker that wakes first often takes most of wrk's keep-alive connections and keeps them
    for the whole run (docs/performance.md). A cap of connections ÷ workers leaves each worker
    exactly its share, the same for hello and for the service. A gthread worker keeps at most
    ``cap - threads`` idle connections alive between requests (gunicorn's ``max_keepalived``) and
    closes the others after their answer; the floor of ``threads + 1`` only makes sure it keeps
    some (with the bench's 16 connections on 2 workers × 4 threads: cap 8, four kept alive).
    Given explicitly, it is kept.
    sync workers (the production setting) ignore the cap: they take one connection at a time.
    """
    if _option(gunicorn_args, "--worker-connections") is not None:
        return gunicorn_args
    configured = gunicorn_settings()
    workers = int(_option(gunicorn_args, "-w", "--workers") or configured.workers)
    threads = int(_option(gunicorn_args, "--threads") or configured.threads)
    cap = max(-(-connections // workers), threads + 1)
    return [*gunicorn_args, "--worker-connections", str(cap)]


class Bench:
    """The servers under test and the data that drives them."""

    def __init__(self, args: argparse.Namespace, workdir: Path, env: dict[str, str]):
        self.args = args
        self.workdir = workdir
        self.env = env
        self.service: subprocess.Popen | None = None
        self.hello: subprocess.Popen | None = None
        self.service_port = self.hello_port = 0
        self.masters: dict[int, int] = {}  # port -> gunicorn master pid

    def start(self, gunicorn_args: list[str]) -> None:
        self.stop()
        gunicorn_args = balanced(gunicorn_args, self.args.connections)
        metrics = self.workdir / "prometheus"
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir()
        self.service_port, self.hello_port = free_port(), free_port()
        env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
        self.service = start_gunicorn("app.wsgi:app", port=self.service_port, env=env, args=gunicorn_args,
                                      log=self.workdir / "service.log")
        self.hello = start_gunicorn("loadtests.hello:app", port=self.hello_port, env=env, args=gunicorn_args,
                                    log=self.workdir / "hello.log")
        wait_http(f"http://127.0.0.1:{self.service_port}/readyz", process=self.service)
        wait_http(f"http://127.0.0.1:{self.hello_port}/hello", process=self.hello)
        self.masters = {self.service_port: self.service.pid, self.hello_port: self.hello.pid}

    def stop(self) -> None:
        stop(self.service)
        stop(self.hello)
        self.service = self.hello = None
        self.masters = {}

    def wrk(self, port: int, path: str, *, method: str = "GET", data: Path | None = None, expect: str = "",
            rate: float = 0, duration: float | None = None, body_key: str = "token") -> WrkResult:
        connections = self.args.connections
        env = {**os.environ, "BENCH_PATH": path, "BENCH_METHOD": method, "BENCH_DATA": str(data or ""),
               "BENCH_EXPECT": expect, "BENCH_RATE": str(rate), "BENCH_CONNECTIONS": str(connections),
               "BENCH_BODY_KEY": body_key}
        seconds = duration or self.args.duration
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(LUA),
               f"http://127.0.0.1:{port}"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
        r = read_bench_line(done.stdout)
        if done.returncode or r is None:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        return WrkResult(rps=r["requests"] / (r["duration_us"] / 1e6), p50_ms=r["p50_us"] / 1000,
                         p99_ms=r["p99_us"] / 1000, requests=r["requests"], bad=r["invalid"] + r["socket_errors"])

    def measure(self, port: int, path: str, *, what: str = "", before_run: Callable[[], None] | None = None,
                **kwargs: Any) -> Measurement:
        """A warm-up run, then ``--rounds`` measured runs, each a fresh wrk process (fresh connections,
        so a fresh split over the workers), with each worker's CPU time read before and after.
        ``before_run`` (e.g. re-signing the codes to scan) is called before each run, not timed."""
        what = what or path
        if before_run:
            before_run()
        self.wrk(port, path, duration=2, **kwargs)  # warm-up: worker start-up, keyring, connections
        master = self.masters.get(port)
        rounds: list[WrkResult] = []
        n = self.args.rounds
        for i in range(1, n + 1):
            if before_run:
                before_run()
            before = worker_cpu(master) if master else {}
            result = self.wrk(port, path, **kwargs)
            after = worker_cpu(master) if master else {}
            result.worker_cpu_s = tuple(sorted((after[pid] - before.get(pid, 0.0) for pid in after), reverse=True))
            rounds.append(result)
            cpu, split = result.cpu_ms_per_request, result.split_pct
            print(f"{what} round {i}/{n}: {result.rps:,.0f} req/s, p99 {result.p99_ms:.1f} ms"
                  + (f", {cpu:.2f} ms CPU/req" if cpu is not None else "")
                  + (f", split {split:.0f} % (workers {' + '.join(f'{s:.2f}' for s in result.worker_cpu_s)} s)"
                     if split is not None else "")
                  + (f", {result.bad} bad" if result.bad else ""), file=sys.stderr)
        return Measurement(rounds, paced=bool(kwargs.get("rate")))


class LoginStream:
    """Log-ins at a steady ``rate`` a second against ``port`` while the ``with`` block runs.

    Each log-in is a fresh connection posting a seeded account's name and the shared seeded
    password to ``/api/v1/auth/token`` (hashed at the production cost). Four sender threads share
    the schedule, so the rate holds while a log-in answers within ``SENDERS / rate`` seconds; a
    slower service gets fewer, never more. ``ok`` and ``failed`` count answers, ``achieved`` is the
    rate they came at (answers ÷ seconds the stream ran), printed beside the requested one.
    """

    SENDERS = 4

    def __init__(self, port: int, usernames: list[str], password: str, rate: float):
        self.port, self.usernames, self.password, self.rate = port, usernames, password, rate
        self.ok = self.failed = 0
        self.seconds = 0.0
        self._started = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _send(self, index: int) -> None:
        period = self.SENDERS / self.rate
        due = time.monotonic() + index / self.rate
        n = index
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            body = json.dumps({"username": self.usernames[n % len(self.usernames)], "password": self.password})
            n += self.SENDERS
            due += period
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                connection.request("POST", "/api/v1/auth/token", body, {"Content-Type": "application/json"})
                good = connection.getresponse().status == 200
            except OSError:
                good = False
            finally:
                connection.close()
            with self._lock:
                self.ok, self.failed = self.ok + good, self.failed + (not good)

    @property
    def achieved(self) -> float:
        """Log-ins answered per second over the stream's run (0 before it ran)."""
        return (self.ok + self.failed) / self.seconds if self.seconds else 0.0

    def __enter__(self) -> "LoginStream":
        self._started = time.monotonic()
        self._threads = [threading.Thread(target=self._send, args=(i,), daemon=True) for i in range(self.SENDERS)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.seconds = time.monotonic() - self._started


def _tokens(app: Any, taxpayers: int) -> tuple[Path, Path, Path, Path, Callable[[], None]]:
    """Data files for wrk: clerks with fresh code tokens, taxpayers' bearers (two disjoint sets),
    the second set's refresh tokens (each of a log-in written as a real session would be), and a
    function that rewrites the first file with newly signed codes.

    A code lives 60 s (+5 s leeway) and a verification row runs longer than that (warm-up and
    rounds), so the codes are re-signed before every run: the previous cached code is dropped,
    so each run scans codes exactly as a phone has just fetched them (a full lifetime ahead).
    """
    from sqlalchemy import select

    from app.accounts.domain import Principal, Role
    from app.accounts.models import RefreshSession, User
    from app.codes.service import issue_code
    from app.db import bulk_insert
    from app.services import services
    from app.taxpayers.cache import tp_key
    from loadtests.seed import clerk_usernames, taxpayer_username

    with app.app_context():
        s = services()
        now = s.clock.now()
        step = max(1, taxpayers // 4000)
        names = [taxpayer_username(i) for i in range(0, taxpayers, step)][:4000]
        clerks = clerk_usernames()
        with s.uow() as uow:
            users = {u.username: u for u in uow.session.scalars(select(User).where(User.username.in_(names + clerks)))}

        def bearer(u: User) -> str:
            return s.tokens.issue(Principal(u.id, u.username, Role(u.role), u.uscc, u.bank_id), now=now)

        verifying, fetching = names[: len(names) // 2], names[len(names) // 2:]
        clerk_bearers = [bearer(users[c]) for c in clerks]
        sessions = {n: f"bench-{users[n].id}-{int(now.timestamp())}" for n in fetching}
        with s.uow() as uow:
            bulk_insert(uow.session, RefreshSession,
                        [{"jti": jti, "user_id": users[n].id, "created_at": now} for n, jti in sessions.items()])
            uow.commit()
        refresh_tokens = [s.tokens.issue_refresh(Principal(users[n].id, n, Role.TAXPAYER), version=0,
                                                 session=sessions[n], now=now) for n in fetching]
    verify = Path(tempfile.mktemp(prefix="verify-", dir=app.instance_path))

    def refresh_codes() -> None:
        with app.app_context():
            s = services()
            usccs = [users[n].uscc for n in verifying]
            s.codes.redis.delete(*(tp_key(uscc, "code") for uscc in usccs))
            codes = [issue_code(uscc, uow=s.uow(), status_cache=s.status_cache, codes=s.codes, keyring=s.keyring,
                                subjects=s.subjects, clock=s.clock, settings=s.code_settings).token for uscc in usccs]
        verify.write_text("".join(f"{clerk_bearers[i % len(clerk_bearers)]}\t{code}\n" for i, code in enumerate(codes)))

    refresh_codes()
    fetch = Path(tempfile.mktemp(prefix="fetch-", dir=app.instance_path))
    fetch.write_text("".join(f"{bearer(users[n])}\n" for n in fetching))
    verifying_bearers = Path(tempfile.mktemp(prefix="badge-", dir=app.instance_path))
    verifying_bearers.write_text("".join(f"{bearer(users[n])}\n" for n in verifying))
    refreshes = Path(tempfile.mktemp(prefix="refresh-", dir=app.instance_path))
    refreshes.write_text("".join(f"\t{token}\n" for token in refresh_tokens))
    return verify, fetch, verifying_bearers, refreshes, refresh_codes


def _badge_rows(app: Any, rounds: int) -> list[Row]:
    """The fast renderer against the naive one, same process, same inputs, interleaved."""
    from app.codes.badge import render_badge, render_badge_naive
    from app.codes.service import issue_code
    from app.services import services
    from app.taxpayers.domain import mask_company_name
    from loadtests.seed import identities

    with app.app_context():
        s = services()
        inputs = []
        for who in identities(40):
            code = issue_code(who.uscc, uow=s.uow(), status_cache=s.status_cache, codes=s.codes, keyring=s.keyring,
                              subjects=s.subjects, clock=s.clock, settings=s.code_settings)
            inputs.append(dict(token=code.token, grade=who.grade, color=code.color.value, state=who.state,
                               masked_name=mask_company_name(code.status.name), issued_at=code.issued_at))
    times: dict[str, list[float]] = {"fast": [], "naive": []}
    for i in range(rounds):
        kwargs = inputs[i % len(inputs)]
        for label, render in (("fast", render_badge), ("naive", render_badge_naive)):
            started = time.perf_counter()
            render(**kwargs)
            times[label].append(time.perf_counter() - started)
    fast, naive = statistics.median(times["fast"]) * 1000, statistics.median(times["naive"]) * 1000
    ratio = naive / fast
    return [Row("badge PNG render (median of %d)" % rounds, f"{fast:.2f} ms", f"naive {naive:.1f} ms", ratio,
                f"≥ {BADGE_RATIO:g}×", ratio >= BADGE_RATIO)]


def _redis_rows(redis_url: str, taxpayers: int) -> list[Row]:
    """Bytes per taxpayer in Redis, from MEMORY USAGE on keys the benchmark just created."""
    import redis

    from app.taxpayers.cache import tp_key

    client = redis.Redis.from_url(redis_url)
    keys = [k.decode() for k in client.scan_iter(match="{tp:*}:badge", count=1000)][:200]
    usage: dict[str, list[int]] = {"status": [], "code": [], "badge": []}
    for key in keys:
        uscc = key[len("{tp:"):key.index("}")]
        for what in usage:
            size = client.memory_usage(tp_key(uscc, what), samples=0)
            if size:
                usage[what].append(size)
    info = client.info("memory")
    rows = []
    for what, sizes in usage.items():
        if sizes:
            rows.append(Row(f"Redis bytes per taxpayer: {what}", f"{statistics.mean(sizes):,.0f} B",
                            f"{len(sizes)} keys sampled"))
    rows.append(Row("Redis used_memory (all statuses cached)", f"{info['used_memory'] / 2**20:,.0f} MiB",
                    f"{taxpayers:,} taxpayers"))
    return rows


def _service_rows(bench: Bench, verify: Path, refresh_codes: Callable[[], None], fetch: Path,
                  badge_bearers: Path | None, refreshes: Path | None = None, label: str = "") -> list[Row]:
    """Hello, verification (flat out and paced), code fetch, their floors and, given bearers, the
    badge over HTTP, given refresh tokens, the token refresh (the capacity model's renewal).

    Throughput rows report the best of the rounds and show their spread, the worker CPU per
    request (median of the rounds) and the split of the reported round; the paced row reports
    the median p99 of its rounds.
    """
    hello = bench.measure(bench.hello_port, "/hello", what=f"{label}hello", expect='"hello"')
    verified = bench.measure(bench.service_port, "/api/v1/verifications", what=f"{label}verification",
                             before_run=refresh_codes, method="POST", data=verify, expect='"valid":true')
    paced = bench.measure(bench.service_port, "/api/v1/verifications", what=f"{label}paced verification",
                          before_run=refresh_codes, method="POST", data=verify, expect='"valid":true',
                          rate=PACED_SHARE * verified.rps)
    fetched = bench.measure(bench.service_port, "/api/v1/me/code", what=f"{label}code fetch", data=fetch,
                            expect='"token":')
    # The floors (loadtests/hello.py): bare Flask making only the I/O each route cannot do without.
    code_floor = bench.measure(bench.hello_port, "/floor/code", what=f"{label}code fetch floor", expect='"cached"')
    verify_floor = bench.measure(bench.hello_port, "/floor/verification", what=f"{label}verification floor",
                                 expect='"cached"')
    figures = {"hello": hello, "verify": verified, "paced": paced, "code": fetched,
               "code floor": code_floor, "verification floor": verify_floor}
    login_rate = bench.args.login_rate
    if login_rate:
        from loadtests.seed import read_password, taxpayer_username

        usernames = [taxpayer_username(i) for i in range(min(bench.args.taxpayers, 2000))]
        with LoginStream(bench.service_port, usernames, read_password(str(bench.workdir)), login_rate) as logins:
            with_logins = bench.measure(bench.service_port, "/api/v1/verifications", before_run=refresh_codes,
                                        what=f"{label}paced verification + {login_rate:g} log-ins/s", method="POST",
                                        data=verify, expect='"valid":true', rate=PACED_SHARE * verified.rps)
        figures["paced + log-ins"] = with_logins
    rounds = f"best of {bench.args.rounds}" if bench.args.rounds > 1 else ""
    median = f"median of {bench.args.rounds}, " if bench.args.rounds > 1 else ""

    def also(m: Measurement, first: str) -> str:
        return "; ".join(filter(None, [first, m.details()]))

    rows = [
        Row(f"{label}hello (bare Flask, same gunicorn{', ' + rounds if rounds else ''})", f"{hello.rps:,.0f} req/s",
            also(hello, f"p99 {hello.p99_ms:.1f} ms")),
        Row(f"{label}clerk verification{f' ({rounds})' if rounds else ''}", f"{verified.rps:,.0f} req/s",
            also(verified, "hello"), verified.rps / hello.rps,
            f"≥ {VERIFY_RATIO:g}×", verified.rps >= VERIFY_RATIO * hello.rps and verified.bad == 0),
        Row(f"{label}verification p99 at {PACED_SHARE:.0%} load ({median}{paced.rps:,.0f} req/s)",
            f"{paced.p99_ms:.1f} ms", also(paced, f"p50 {paced.p50_ms:.1f} ms"), None, f"≤ {P99_MS:g} ms",
            paced.p99_ms <= P99_MS and paced.bad == 0),
        *([Row(f"{label}verification p99 at {PACED_SHARE:.0%} load + {login_rate:g} log-ins/s (info, {median}"
               f"{with_logins.rps:,.0f} req/s)", f"{with_logins.p99_ms:.1f} ms",
               also(with_logins, f"p50 {with_logins.p50_ms:.1f} ms; log-ins {logins.ok:,} ok, {logins.failed} failed, "
                                           f"{logins.achieved:.1f}/s"),
               ok=None if logins.failed == 0 and with_logins.bad == 0 else False)] if login_rate else []),
        Row(f"{label}code fetch{f' ({rounds})' if rounds else ''}", f"{fetched.rps:,.0f} req/s",
            also(fetched, "hello"), fetched.rps / hello.rps,
            f"≥ {CODE_RATIO:g}×", fetched.rps >= CODE_RATIO * hello.rps and fetched.bad == 0),
    ]
    for name, floor, service, needs in (
            ("verification", verify_floor, verified, "one pipelined Redis round trip + one committed INSERT"),
            ("code fetch", code_floor, fetched, "one Redis round trip")):
        rows.append(Row(f"{label}{name} floor: bare Flask, {needs} (info{', ' + rounds if rounds else ''})",
                        f"{floor.rps:,.0f} req/s",
                        also(floor, f"hello; the service reaches {service.rps / floor.rps:.0%} of it"),
                        floor.rps / hello.rps))
    # Hello's CPU per request over the service's: what the throughput ratio would be if both were
    # CPU-bound and evenly split; a lopsided split moves it far less than it moves throughput.
    for name, m in (("verification", verified), ("code fetch", fetched)):
        service_cpu, hello_cpu = m.cpu_ms_per_request, hello.cpu_ms_per_request
        if service_cpu and hello_cpu:
            rows.append(Row(f"{label}{name}: worker CPU per request, service / hello (info)", f"{service_cpu:.2f} ms",
                            f"hello {hello_cpu:.2f} ms (ratio: hello's ÷ the service's)", hello_cpu / service_cpu))
    if badge_bearers is not None:
        badges = bench.measure(bench.service_port, "/api/v1/me/code.png", what=f"{label}badge PNG",
                               data=badge_bearers)
        figures["badge"] = badges
        rows.append(Row(f"{label}badge PNG over HTTP (info{', ' + rounds if rounds else ''})",
                        f"{badges.rps:,.0f} req/s", also(badges, f"p99 {badges.p99_ms:.1f} ms"),
                        badges.rps / hello.rps))
    if refreshes is not None:
        renewed = bench.measure(bench.service_port, "/api/v1/auth/refresh", what=f"{label}token refresh",
                                method="POST", data=refreshes, body_key="refresh_token", expect='"access_token"')
        figures["token refresh"] = renewed
        rows.append(Row(f"{label}token refresh, no password (info{', ' + rounds if rounds else ''})",
                        f"{renewed.rps:,.0f} req/s", also(renewed, f"p99 {renewed.p99_ms:.1f} ms"),
                        renewed.rps / hello.rps))
    for name, result in figures.items():
        if result.bad:
            rows.append(Row(f"{label}{name}: failed or unexpected answers", str(result.bad),
                            f"over {len(result.rounds)} rounds, {result.requests:,} requests", ok=False))
    return rows


def _run_bench_script(module: str, options: list[str], timeout: float) -> dict:
    """Run ``python -m loadtests.<module>`` and return the figures of its ``BENCH {json}`` line.

    Its progress goes to our stderr as it comes; raises ``RuntimeError`` when it fails.
    """
    print(f"running loadtests.{module} {' '.join(options)}…", file=sys.stderr)
    done = subprocess.run([sys.executable, "-m", f"loadtests.{module}", *options], cwd=ROOT, stdout=subprocess.PIPE,
                          text=True, timeout=timeout, check=False)
    figures = read_bench_line(done.stdout)
    if done.returncode or figures is None:
        raise RuntimeError(f"exit {done.returncode}: {done.stdout.strip()[-300:]}")
    return figures


def long_rows(args: argparse.Namespace, database_url: str | None) -> list[Row]:
    """Wall times of the push fan-out and of rating a county's households, from their own scripts.

    Each script makes its own database (a fresh SQLite file, or ``database_url`` whose schema is
    reset first) and its own embedded Valkey unless REDIS_URL is set.
    """
    rows: list[Row] = []
    db = "PostgreSQL" if database_url else "SQLite"
    url_option = ["--database-url", database_url] if database_url else []
    n = f"{args.push_taxpayers:,}"
    try:
        push = _run_bench_script("bench_push", ["--taxpayers", str(args.push_taxpayers), "--workers",
                                                str(args.push_workers), *url_option], timeout=1200)
        rows.append(Row(f"push fan-out to {n} inboxes ({args.push_workers} workers, {db}): publish → all delivered",
                        f"{push['delivered_s']:.1f} s", f"{push['delivered'] / push['delivered_s']:,.0f} deliveries/s; "
                        f"all rows written {push['written_s'] or float('nan'):.1f} s"))
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        rows.append(Row(f"push fan-out to {n} inboxes", "failed", str(exc)[:200], ok=False))
    n = f"{args.rural_households:,}"
    try:
        rural = _run_bench_script("bench_rural", ["--households", str(args.rural_households), *url_option],
                                  timeout=1200)
        stages = rural["stages"]
        proposals = next((s for label, s in stages.items() if label.startswith("rate every household")), None)
        full = args.rural_households >= 50_000
        rows.append(Row(f"rate {n} households end to end ({rural['villages']} villages, {db})",
                        f"{rural['end_to_end_s']:.1f} s", f"proposals {proposals:.1f} s" if proposals else "",
                        None, "< 60 s" if full else "", (rural["end_to_end_s"] < 60) if full else None))
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        rows.append(Row(f"rate {n} households end to end", "failed", str(exc)[:200], ok=False))
    return rows


def save_rows(rows: list[Row], args: argparse.Namespace) -> Path:
    """Write the run's rows and options to ``loadtests/reports/bench-<stamp>.json`` (git-ignored),
    so that a later run can be set beside this one; returns the path."""
    from dataclasses import asdict

    reports = ROOT / "loadtests" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    path = reports / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    path.write_text(json.dumps({"commit": commit or None, "options": vars(args), "rows": [asdict(r) for r in rows]},
                               ensure_ascii=False, indent=1))
    return path


def print_table(rows: list[Row]) -> None:
    header = ("what", "measured", "against", "ratio", "target", "")
    table = [header] + [(r.what, r.figure, r.versus, f"{r.ratio:.2f}×" if r.ratio is not None else "", r.target,
                         "" if r.ok is None else ("ok" if r.ok else "MISSED")) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for n, line in enumerate(table):
        print(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            print("-+-".join("-" * w for w in widths))


def verdict(rows: list[Row]) -> int:
    """The exit status of a run: 1 (and the missed rows on stderr) when any row missed its target."""
    missed = [r.what for r in rows if r.ok is False]
    if missed:
        print(f"\nMISSED: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taxpayers", type=int, default=300_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measured wrk runs per row, each with fresh connections (best or median reported)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--badge-rounds", type=int, default=200)
    parser.add_argument("--database-url", help="PostgreSQL to use (its schema is reset); default: fresh SQLite")
    parser.add_argument("--configs", help="compare gunicorn settings (class:workers:threads[:worker_connections]), "
                                          "e.g. gthread:2:4,gthread:2:4:8,sync:2:1")
    parser.add_argument("--gunicorn-args", default="", help="extra gunicorn options for both servers")
    parser.add_argument("--login-rate", type=float, default=0,
                        help="also measure the paced verification with this many log-ins a second beside it")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (database, server logs)")
    parser.add_argument("--skip-long", action="store_true",
                        help="leave out the long wall-time rows (push fan-out, rating a county's households)")
    parser.add_argument("--push-taxpayers", type=int, default=300_000,
                        help="inboxes the push fan-out row fills (loadtests/bench_push.py)")
    parser.add_argument("--push-workers", type=int, default=2, help="RQ workers for the push fan-out row")
    parser.add_argument("--rural-households", type=int, default=50_000,
                        help="households the rural rating row files and rates (loadtests/bench_rural.py)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2

    from app.services import services
    from loadtests.seed import seed

    rows: list[Row] = []
    with scratch("shuima-bench-", args.database_url, reset=True, keep=args.keep) as sc:
        url, workdir = sc.database_url, sc.workdir
        env = base_env(DATABASE_URL=url, REDIS_URL=sc.redis_url, SHUIMA_INSTANCE_PATH=str(workdir),
                       SHUIMA_LOG_LEVEL="INFO", SHUIMA_VERIFY_RATE_LIMIT="1000000 per 1 minute")
        bench = Bench(args, workdir, env)
        try:
            app = sc.create_app()
            with app.app_context():
                print(f"seeding {args.taxpayers:,} taxpayers…", file=sys.stderr)
                started = time.perf_counter()
                first = seed(services(), taxpayers=args.taxpayers, instance_path=str(workdir))
                seeded = time.perf_counter() - started
                started = time.perf_counter()
                again = seed(services(), taxpayers=args.taxpayers, instance_path=str(workdir))
                reseeded = time.perf_counter() - started
            db = "PostgreSQL" if sc.backend == "postgresql" else "SQLite"
            n = f"{args.taxpayers:,}"
            rows += [
                Row(f"grade import, {n} new rows ({db})", f"{first.timings['taxpayers']:.1f} s",
                    f"{args.taxpayers / first.timings['taxpayers']:,.0f} rows/s"),
                Row(f"seed --taxpayers {n} ({db}, + accounts, banks)", f"{seeded:.1f} s", "", None, "< 60 s",
                    seeded < 60 or args.taxpayers < 300_000),
                Row("seed again (idempotent: no change)", f"{reseeded:.1f} s",
                    f"created {again.taxpayers_created + again.accounts_created + again.banks_created}", None,
                    "nothing new", again.taxpayers_created + again.accounts_created + again.banks_created == 0),
            ]
            rows += _badge_rows(app, args.badge_rounds)

            if args.configs:
                for spec in args.configs.split(","):
                    kind, workers, threads, *connections = spec.split(":")
                    bench.start(["-k", kind, "-w", workers, "--threads", threads, *args.gunicorn_args.split(),
                                 *(["--worker-connections", connections[0]] if connections else [])])
                    verify, fetch, _, _, refresh_codes = _tokens(app, args.taxpayers)
                    config_rows = _service_rows(bench, verify, refresh_codes, fetch, None, label=f"[{spec}] ")
                    rows += config_rows
                    print_table(config_rows)
            else:
                bench.start(args.gunicorn_args.split())
                verify, fetch, badge_bearers, refreshes, refresh_codes = _tokens(app, args.taxpayers)
                service_rows = _service_rows(bench, verify, refresh_codes, fetch, badge_bearers, refreshes)
                rows += service_rows
                rows += _redis_rows(sc.redis_url, args.taxpayers)
        finally:
            bench.stop()  # before the embedded Valkey goes
    if not args.skip_long:
        rows += long_rows(args, url if args.database_url else None)
    print()
    print_table(rows)
    print(f"\nrows saved to {save_rows(rows, args)}", file=sys.stderr)
    return verdict(rows)


if __name__ == "__main__":
    sys.exit(main())
