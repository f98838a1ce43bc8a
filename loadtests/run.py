"""``make loadtest``: seed (if needed), serve make-run style, run Locust headless, stop everything.

    .venv/bin/python -m loadtests.run [--taxpayers 300000] [--users 300] [--spawn-rate 10] [--run-time 60s]

1. starts ``python -m app.devserver --no-seed-demo`` (migrations, embedded Valkey unless
   REDIS_URL is set, gunicorn with the production settings, one RQ worker) on a free loopback
   port, with its own instance directory ``instance/loadtest/`` (its own SQLite file unless
   DATABASE_URL is set), so it never disturbs a ``make run`` on port 8000;
2. runs ``shuima seed --taxpayers N`` against it (idempotent: the first run creates the
   population, later runs take seconds);
3. runs Locust headless for a fixed time with ``loadtests/locustfile.py`` and writes
   ``loadtests/reports/<stamp>_stats.csv`` (and the other CSVs) and ``<stamp>.html``;
4. stops the service (and with it gunicorn, the worker and Valkey) by pid, prints a summary and
   exits with Locust's status: non-zero when any request failed.

The per-clerk verification limit is left as configured: the locustfile spreads scans over the
1,000 seeded clerks, each under the limit.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

from loadtests.processes import ROOT, base_env, free_port, stop, wait_http

REPORTS = ROOT / "loadtests" / "reports"


def summary(stats_csv: Path) -> str:
    """The per-endpoint table of a Locust ``*_stats.csv``, compact."""
    lines = [f"{'endpoint':<44} {'reqs':>7} {'fails':>5} {'med ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'req/s':>7}"]
    with stats_csv.open() as handle:
        for row in csv.DictReader(handle):
            name = f"{row['Type']} {row['Name']}" if row["Name"] != "Aggregated" else "Aggregated"
            lines.append(f"{name[:44]:<44} {row['Request Count']:>7} {row['Failure Count']:>5} "
                         f"{row['50%']:>7} {row['95%']:>7} {row['99%']:>7} {float(row['Requests/s']):>7.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taxpayers", type=int, default=int(os.environ.get("LOADTEST_TAXPAYERS", 300_000)))
    parser.add_argument("--users", type=int, default=int(os.environ.get("LOADTEST_USERS", 120)))
    parser.add_argument("--spawn-rate", type=float, default=float(os.environ.get("LOADTEST_SPAWN_RATE", 3)))
    parser.add_argument("--run-time", default=os.environ.get("LOADTEST_RUN_TIME", "60s"))
    parser.add_argument("--instance", default=str(ROOT / "instance" / "loadtest"))
    args = parser.parse_args(argv)

    port = free_port()
    host = f"http://127.0.0.1:{port}"
    env = base_env(SHUIMA_INSTANCE_PATH=args.instance, SHUIMA_LOG_LEVEL="WARNING",
                   SHUIMA_LOADTEST_TAXPAYERS=str(args.taxpayers))
    Path(args.instance).mkdir(parents=True, exist_ok=True)
    REPORTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    server = subprocess.Popen([sys.executable, "-m", "app.devserver", "--no-seed-demo", "--bind", f"127.0.0.1:{port}"],
                              cwd=ROOT, env=env, start_new_session=True)
    try:
        wait_http(f"{host}/readyz", process=server, timeout=120)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "app.cli", "seed", "--taxpayers", str(args.taxpayers)], cwd=ROOT,
                       env=env, check=True, timeout=600)
        print(f"seed checked/completed in {time.perf_counter() - started:.1f} s", flush=True)
        locust = [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless",
                  "--host", host, "-u", str(args.users), "-r", str(args.spawn_rate), "--run-time", args.run_time,
                  "--stop-timeout", "10", "--csv", str(REPORTS / stamp), "--html", str(REPORTS / f"{stamp}.html"),
                  "--only-summary", "--loglevel", "WARNING"]
        returncode = subprocess.run(locust, cwd=ROOT, env=env, timeout=_seconds(args.run_time) + 300).returncode
    finally:
        stop(server, grace=20)
    stats = REPORTS / f"{stamp}_stats.csv"
    if stats.exists():
        print(f"\n{summary(stats)}\n\nreports: {REPORTS / stamp}_*.csv, {REPORTS / stamp}.html")
    if returncode:
        print(f"locust exited with {returncode}: see the failures above and {REPORTS / stamp}_failures.csv",
              file=sys.stderr)
    return returncode


def _seconds(run_time: str) -> int:
    """Locust's ``1h2m3s`` notation in seconds."""
    total, number = 0, ""
    for ch in run_time:
        if ch.isdigit():
            number += ch
        else:
            total += int(number or 0) * {"h": 3600, "m": 60, "s": 1}[ch]
            number = ""
    return total + int(number or 0)


if __name__ == "__main__":
    sys.exit(main())
