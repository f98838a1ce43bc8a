"""Benchmarks that keep us honest: the service's hot paths as ratios of a bare Flask app.

    .venv/bin/python -m loadtests.bench [--taxpayers 300000] [--duration 10] [--configs gthread:2:4,sync:3:1]

One run, one machine, one gunicorn configuration for both servers:

1. seeds a fresh database with the load-test population (wall time of the 300,000-row grade
   import, of the whole seed, and of running it again);
2. starts Shuima under gunicorn with the production settings (``gunicorn.conf.py``; logging at
   INFO, the production default: one access-log line per request, into the run's
   ``service.log``) and a bare Flask "hello" app (``loadtests/hello.py``) under the same
   settings, side by side;
3. drives both with ``wrk`` (C, event loop, one thread: it needs a small fraction of a core
   where a Python client would need more CPU than the server it measures) and a Lua script
   (``bench.lua``) that rotates credentials and code tokens and checks every answer;
4. renders badges with the fast and the naive renderer in this process, interleaved;
5. measures Redis memory per taxpayer with ``MEMORY USAGE`` on real keys;
6. after the servers have stopped, the long rows: push fan-out to ``--push-taxpayers`` inboxes
   with 2 RQ workers (``loadtests/bench_push.py``) and rating ``--rural-households`` households
   end to end (``loadtests/bench_rural.py``), each run as its own process on its own database;
   ``--skip-long`` leaves them out (they add about a minute at full scale);
7. prints a table and exits 1 when a ratio misses its target.

The per-clerk verification limit (``SHUIMA_VERIFY_RATE_LIMIT``, 120/min) is raised for the run:
wrk replays the 1,000 seeded clerks' credentials at hundreds of requests per second. The
limiter still runs on every request (one Redis script call), so its cost is measured, only
its ceiling is lifted.

``--configs`` measures hello, verification and code fetch under several gunicorn worker
settings (``class:workers:threads``) instead of the full run; that is how the production
settings in ``gunicorn.conf.py`` were chosen (docs/performance.md).

Needs ``wrk`` (Debian: ``apt-get install -y wrk``). Uses an embedded Valkey unless REDIS_URL is
set, and a fresh SQLite file unless --database-url is given (its tables are dropped first).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.migrate import reset_postgres
from loadtests.processes import ROOT, base_env, free_port, start_gunicorn, stop, wait_http

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
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int


class Bench:
    """The servers under test and the data that drives them."""

    def __init__(self, args: argparse.Namespace, workdir: Path, env: dict[str, str]):
        self.args = args
        self.workdir = workdir
        self.env = env
        self.service: subprocess.Popen | None = None
        self.hello: subprocess.Popen | None = None
        self.service_port = self.hello_port = 0

    def start(self, gunicorn_args: list[str]) -> None:
        self.stop()
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

    def stop(self) -> None:
        stop(self.service)
        stop(self.hello)
        self.service = self.hello = None

    def wrk(self, port: int, path: str, *, method: str = "GET", data: Path | None = None, expect: str = "",
            rate: float = 0, duration: float | None = None) -> WrkResult:
        connections = self.args.connections
        env = {**os.environ, "BENCH_PATH": path, "BENCH_METHOD": method, "BENCH_DATA": str(data or ""),
               "BENCH_EXPECT": expect, "BENCH_RATE": str(rate), "BENCH_CONNECTIONS": str(connections)}
        seconds = duration or self.args.duration
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(LUA),
               f"http://127.0.0.1:{port}"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
        line = next((l for l in done.stdout.splitlines() if l.startswith("BENCH ")), None)
        if done.returncode or line is None:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        r = json.loads(line[len("BENCH "):])
        return WrkResult(rps=r["requests"] / (r["duration_us"] / 1e6), p50_ms=r["p50_us"] / 1000,
                         p99_ms=r["p99_us"] / 1000, requests=r["requests"], bad=r["invalid"] + r["socket_errors"])

    def measure(self, port: int, path: str, **kwargs: Any) -> WrkResult:
        self.wrk(port, path, duration=2, **kwargs)  # warm-up: worker start-up, keyring, connections
        return self.wrk(port, path, **kwargs)


def _tokens(app: Any, taxpayers: int) -> tuple[Path, Path, Path]:
    """Data files for wrk: clerks with fresh code tokens, taxpayers' bearers (two disjoint sets)."""
    from sqlalchemy import select

    from app.accounts.domain import Principal, Role
    from app.accounts.models import User
    from app.codes.service import issue_code
    from app.services import services
    from loadtests.seed import BANKS, CLERKS_PER_BANK, clerk_username, taxpayer_username

    with app.app_context():
        s = services()
        now = s.clock.now()
        step = max(1, taxpayers // 4000)
        names = [taxpayer_username(i) for i in range(0, taxpayers, step)][:4000]
        clerks = [clerk_username(b, k) for b in range(1, BANKS + 1) for k in range(1, CLERKS_PER_BANK + 1)]
        with s.uow() as uow:
            users = {u.username: u for u in uow.session.scalars(select(User).where(User.username.in_(names + clerks)))}

        def bearer(u: User) -> str:
            return s.tokens.issue(Principal(u.id, u.username, Role(u.role), u.uscc, u.bank_id), now=now)

        verifying, fetching = names[: len(names) // 2], names[len(names) // 2:]
        codes = [issue_code(users[n].uscc, uow=s.uow(), status_cache=s.status_cache, codes=s.codes,
                            keyring=s.keyring, clock=s.clock, settings=s.code_settings).token for n in verifying]
        clerk_bearers = [bearer(users[c]) for c in clerks]
    verify = Path(tempfile.mktemp(prefix="verify-", dir=app.instance_path))
    verify.write_text("".join(f"{clerk_bearers[i % len(clerk_bearers)]}\t{code}\n" for i, code in enumerate(codes)))
    fetch = Path(tempfile.mktemp(prefix="fetch-", dir=app.instance_path))
    fetch.write_text("".join(f"{bearer(users[n])}\n" for n in fetching))
    verifying_bearers = Path(tempfile.mktemp(prefix="badge-", dir=app.instance_path))
    verifying_bearers.write_text("".join(f"{bearer(users[n])}\n" for n in verifying))
    return verify, fetch, verifying_bearers


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
                              clock=s.clock, settings=s.code_settings)
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


def _service_rows(bench: Bench, verify: Path, fetch: Path, badge_bearers: Path | None,
                  label: str = "") -> tuple[list[Row], dict]:
    hello = bench.measure(bench.hello_port, "/hello", expect='"hello"')
    verified = bench.measure(bench.service_port, "/api/v1/verifications", method="POST", data=verify,
                             expect='"valid":true')
    paced = bench.measure(bench.service_port, "/api/v1/verifications", method="POST", data=verify,
                          expect='"valid":true', rate=PACED_SHARE * verified.rps)
    fetched = bench.measure(bench.service_port, "/api/v1/me/code", data=fetch, expect='"token":')
    figures = {"hello": hello, "verify": verified, "paced": paced, "code": fetched}
    rows = [
        Row(f"{label}hello (bare Flask, same gunicorn)", f"{hello.rps:,.0f} req/s", f"p99 {hello.p99_ms:.1f} ms"),
        Row(f"{label}clerk verification", f"{verified.rps:,.0f} req/s", "hello", verified.rps / hello.rps,
            f"≥ {VERIFY_RATIO:g}×", verified.rps >= VERIFY_RATIO * hello.rps and verified.bad == 0),
        Row(f"{label}verification p99 at {PACED_SHARE:.0%} load ({paced.rps:,.0f} req/s)", f"{paced.p99_ms:.1f} ms",
            f"p50 {paced.p50_ms:.1f} ms", None, f"≤ {P99_MS:g} ms", paced.p99_ms <= P99_MS and paced.bad == 0),
        Row(f"{label}code fetch", f"{fetched.rps:,.0f} req/s", "hello", fetched.rps / hello.rps,
            f"≥ {CODE_RATIO:g}×", fetched.rps >= CODE_RATIO * hello.rps and fetched.bad == 0),
    ]
    if badge_bearers is not None:
        badges = bench.measure(bench.service_port, "/api/v1/me/code.png", data=badge_bearers)
        figures["badge"] = badges
        rows.append(Row(f"{label}badge PNG over HTTP (info)", f"{badges.rps:,.0f} req/s",
                        f"p99 {badges.p99_ms:.1f} ms", badges.rps / hello.rps))
    for name, result in figures.items():
        if result.bad:
            rows.append(Row(f"{label}{name}: failed or unexpected answers", str(result.bad), ok=False))
    return rows, figures


def _run_bench_script(module: str, options: list[str], timeout: float) -> dict:
    """Run ``python -m loadtests.<module>`` and return the figures of its ``BENCH {json}`` line.

    Its progress goes to our stderr as it comes; raises ``RuntimeError`` when it fails.
    """
    print(f"running loadtests.{module} {' '.join(options)}…", file=sys.stderr)
    done = subprocess.run([sys.executable, "-m", f"loadtests.{module}", *options], cwd=ROOT, stdout=subprocess.PIPE,
                          text=True, timeout=timeout, check=False)
    line = next((l for l in reversed(done.stdout.splitlines()) if l.startswith("BENCH ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"exit {done.returncode}: {done.stdout.strip()[-300:]}")
    return json.loads(line[len("BENCH "):])


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
        if database_url:
            reset_postgres(database_url)  # bench_rural needs an empty database (bench_push resets its own)
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




def print_table(rows: list[Row]) -> None:
    header = ("what", "measured", "against", "ratio", "target", "")
    table = [header] + [(r.what, r.figure, r.versus, f"{r.ratio:.2f}×" if r.ratio is not None else "", r.target,
                         "" if r.ok is None else ("ok" if r.ok else "MISSED")) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for n, line in enumerate(table):
        print(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            print("-+-".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taxpayers", type=int, default=300_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--badge-rounds", type=int, default=200)
    parser.add_argument("--database-url", help="PostgreSQL to use (its schema is reset); default: fresh SQLite")
    parser.add_argument("--configs", help="compare gunicorn settings, e.g. gthread:2:4,sync:2:1,sync:3:1")
    parser.add_argument("--gunicorn-args", default="", help="extra gunicorn options for both servers")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (database, server logs)")
    parser.add_argument("--skip-long", action="store_true",
                        help="leave out the long wall-time rows (push fan-out, rating a county's households)")
    parser.add_argument("--push-taxpayers", type=int, default=300_000,
                        help="inboxes the push fan-out row fills (loadtests/bench_push.py)")
    parser.add_argument("--push-workers", type=int, default=2, help="RQ workers for the push fan-out row")
    parser.add_argument("--rural-households", type=int, default=50_000,
                        help="households the rural rating row files and rates (loadtests/bench_rural.py)")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2

    from app import create_app
    from app.config import normalize_database_url
    from app.embedded_redis import EmbeddedValkey
    from app.migrate import upgrade
    from app.services import services
    from loadtests.seed import seed

    workdir = Path(tempfile.mkdtemp(prefix="shuima-bench-"))
    valkey = None if os.environ.get("REDIS_URL") else EmbeddedValkey(str(workdir / "valkey")).start()
    redis_url = os.environ.get("REDIS_URL") or valkey.connection_url  # type: ignore[union-attr]
    url = normalize_database_url(args.database_url or f"sqlite:///{workdir}/bench.db")
    env = base_env(DATABASE_URL=url, REDIS_URL=redis_url, SHUIMA_INSTANCE_PATH=str(workdir),
                   SHUIMA_LOG_LEVEL="INFO", SHUIMA_VERIFY_RATE_LIMIT="1000000 per 1 minute")
    bench = Bench(args, workdir, env)
    rows: list[Row] = []
    try:
        if url.startswith("postgresql"):
            reset_postgres(url)
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "REDIS_URL": redis_url, "INSTANCE_PATH": str(workdir),
                          "LOG_JSON": False, "LOG_LEVEL": "WARNING"})
        with app.app_context():
            print(f"seeding {args.taxpayers:,} taxpayers…", file=sys.stderr)
            started = time.perf_counter()
            first = seed(services(), taxpayers=args.taxpayers, instance_path=str(workdir))
            seeded = time.perf_counter() - started
            started = time.perf_counter()
            seed(services(), taxpayers=args.taxpayers, instance_path=str(workdir))
            reseeded = time.perf_counter() - started
        db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        n = f"{args.taxpayers:,}"
        rows += [
            Row(f"grade import, {n} new rows ({db})", f"{first.timings['taxpayers']:.1f} s",
                f"{args.taxpayers / first.timings['taxpayers']:,.0f} rows/s"),
            Row(f"seed --taxpayers {n} ({db}, + accounts, banks)", f"{seeded:.1f} s", "", None, "< 60 s",
                seeded < 60 or args.taxpayers < 300_000),
            Row("seed again (idempotent: no change)", f"{reseeded:.1f} s"),
        ]
        rows += _badge_rows(app, args.badge_rounds)

        if args.configs:
            for spec in args.configs.split(","):
                kind, workers, threads = spec.split(":")
                bench.start(["-k", kind, "-w", workers, "--threads", threads])
                verify, fetch, _ = _tokens(app, args.taxpayers)
                config_rows, _ = _service_rows(bench, verify, fetch, None, label=f"[{spec}] ")
                rows += config_rows
                print_table(config_rows)
        else:
            bench.start(args.gunicorn_args.split())
            verify, fetch, badge_bearers = _tokens(app, args.taxpayers)
            service_rows, _ = _service_rows(bench, verify, fetch, badge_bearers)
            rows += service_rows
            rows += _redis_rows(redis_url, args.taxpayers)
    finally:
        bench.stop()
        if valkey:
            valkey.stop()
        if args.keep:
            print(f"work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if not args.skip_long:
        rows += long_rows(args, url if args.database_url else None)
    print()
    print_table(rows)
    missed = [r.what for r in rows if r.ok is False]
    if missed:
        print(f"\nMISSED: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
