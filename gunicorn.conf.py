"""Production worker settings (also used by `make run`). Override with SHUIMA_WEB_* variables.

gthread workers: one process per core keeps CPU-bound work (signing, PNG drawing, argon2)
parallel, and a few threads per process overlap the Redis/database round trips. The timeout
is long enough for a 300,000-row grade import posted through the API.

Chosen by measurement (``python -m loadtests.bench --configs gthread:2:4,sync:2:1,sync:4:1,gthread:4:2``
on 2 cores; docs/performance.md): gthread with one worker per core and 4 threads gave the most
verifications per second (520/s against 225–353/s for the others) and the most hello and code
fetches per second, with a verification p99 of 24 ms at 70 % load; sync workers leave the CPU
idle during each Redis and database round trip, and more processes than cores (sync:4,
gthread:4×2) only added context switches and a worse p99. Re-measured with an even split of the
benchmark's connections (docs/performance.md, "Worker settings again"): throughput is within
±15 % across sensible settings; sync workers have a lower p99 but block for a whole argon2id
log-in or HTTP import, which dominate the peak hour, so gthread stays.
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
