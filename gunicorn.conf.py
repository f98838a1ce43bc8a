"""Production worker settings (also used by `make run`). Override with SHUIMA_WEB_* variables.

gthread workers: one process per core keeps CPU-bound work (signing, PNG drawing, argon2)
parallel, and a few threads per process overlap the Redis/database round trips. The timeout
is long enough for a 300,000-row grade import posted through the API.
"""

import multiprocessing
import os

bind = os.environ.get("SHUIMA_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SHUIMA_WEB_WORKERS", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("SHUIMA_WEB_THREADS", 4))
timeout = int(os.environ.get("SHUIMA_WEB_TIMEOUT", 180))
keepalive = 5
accesslog = None  # the app logs what matters, with identifiers masked
