"""``make run``: migrate, seed the demo data, run gunicorn, one worker and the push schedule until Ctrl-C.

With no ``REDIS_URL`` an embedded Valkey is started as a child process (its URL is written
to ``instance/valkey.url`` so the ``shuima`` CLI in another terminal finds it); with no
``DATABASE_URL`` the database is SQLite under ``instance/``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from app import embedded_redis
from app.config import load_config


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Shuima locally: migrate, seed the demo, serve, one worker.")
    parser.add_argument("--bind", help="address:port for gunicorn (default: SHUIMA_WEB_BIND or 127.0.0.1:8000)")
    parser.add_argument("--no-seed-demo", action="store_true", help="skip the demo data (make loadtest seeds its own)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    settings = load_config()
    env = dict(os.environ)
    if args.bind:
        env["SHUIMA_WEB_BIND"] = args.bind
    bind = env.get("SHUIMA_WEB_BIND", "127.0.0.1:8000")
    valkey = None
    if not settings["REDIS_URL"]:
        valkey = embedded_redis.start(settings["INSTANCE_PATH"], publish=True)
        env["REDIS_URL"] = valkey.connection_url
    env.setdefault("DATABASE_URL", settings["DATABASE_URL"])
    metrics_dir = Path(settings["INSTANCE_PATH"]) / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

    children: list[subprocess.Popen] = []
    try:
        shuima = [sys.executable, "-m", "app.cli"]
        subprocess.run([*shuima, "db", "upgrade"], env=env, check=True)
        if not args.no_seed_demo:
            subprocess.run([*shuima, "seed-demo"], env=env, check=True)
        # Own sessions: Ctrl-C reaches only this supervisor, which stops web and worker first
        # and the embedded Valkey last, so nothing logs connection errors on the way out.
        children.append(subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app.wsgi:app"],
                                         env=env, start_new_session=True))
        children.append(subprocess.Popen([sys.executable, "-m", "workers.main"], env=env, start_new_session=True))
        # The push schedule (quiet-hour release, digests, webhook retries, sweeper, calendar):
        # it only enqueues; the worker above does the work.
        children.append(subprocess.Popen([sys.executable, "-m", "workers.push_cron"], env=env, start_new_session=True))
        print(f"\nShuima is running: http://{bind}/docs  (Ctrl-C stops everything)\n", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1  # a child died on its own
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if valkey is not None:
            embedded_redis.unpublish(settings["INSTANCE_PATH"])
            valkey.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
