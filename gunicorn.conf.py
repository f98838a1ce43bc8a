"""Production worker settings (also used by `make run`). Override with SHUIMA_WEB_* variables.

sync workers, two per core. Each worker process serves one request at a time and closes the
connection after it; while one waits on Redis or the database, or hashes a password, the
kernel runs another. The timeout is long enough for a 300,000-row grade import posted through
the API.

Chosen by measurement (``python -m loadtests.bench --configs gthread:2:4:8,sync:2:1,sync:4:1,sync:5:1
--login-rate 2``, docs/performance.md, "Worker class, again"): on 2 cores, against gthread with
one worker per core and 4 threads (the previous setting),

- the verification p99 at 70 % load fell from 30–39 ms to 8–16 ms (SQLite and PostgreSQL), and
  with 2 argon2id log-ins a second beside it from 36–53 ms to 22–26 ms;
- verifications per second rose 4–15 %, code fetches were level (±15 %, run to run).

The gthread tail comes from keep-alive: each of the client's connections stays with the worker
that accepted it, so a burst on one worker's connections queues there while the other worker
idles (without keep-alive, gthread's p99 halved too). Behind a load balancer that opens a
connection per request, as nginx does by default, production traffic looks like the sync case.
Two per core rather than one, because a worker blocked in a log-in's hash (≈0.1 s of CPU) must
not leave a core without a worker; five on 2 cores was worse again (more context switches).

sync workers need a buffering reverse proxy in front of them (nginx, a cloud load balancer),
so that slow mobile clients never hold a worker: the deployment plan in docs/performance.md has
one. ``SHUIMA_WEB_WORKER_CLASS=gthread`` with ``SHUIMA_WEB_THREADS=4`` restores the threaded
workers (gunicorn also switches to gthread by itself when threads > 1).
"""

import multiprocessing
import os

bind = os.environ.get("SHUIMA_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SHUIMA_WEB_WORKERS", 2 * multiprocessing.cpu_count()))
worker_class = os.environ.get("SHUIMA_WEB_WORKER_CLASS", "sync")
threads = int(os.environ.get("SHUIMA_WEB_THREADS", 1))
timeout = int(os.environ.get("SHUIMA_WEB_TIMEOUT", 180))
keepalive = 5  # used by gthread only: sync workers close each connection after its answer
accesslog = None  # the app logs what matters, with identifiers masked
