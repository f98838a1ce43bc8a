"""Prometheus metrics: request counts and latencies per endpoint, served at ``/metrics``.

Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR`` (the dev runner does)
so that every worker's samples are aggregated.
"""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess

REQUESTS = Counter("shuima_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "shuima_http_request_seconds", "HTTP request latency", ["method", "endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def start_timer(at: float | None = None) -> None:
    """Start this request's timer (``time.perf_counter()``; ``at`` for a request that began earlier)."""
    g._started = time.perf_counter() if at is None else at


def request_seconds() -> float | None:
    """Seconds since this request's timer started (``start_timer``), or None."""
    started = g.get("_started")
    return None if started is None else time.perf_counter() - started


# Label children by label values: ``labels()`` validates and locks on every call, and in
# multiprocess mode (PROMETHEUS_MULTIPROC_DIR) each child is an mmap-backed value; the routes are
# few, so the caches stay small.
_counters: dict[tuple[str, str, int], Any] = {}
_timers: dict[tuple[str, str], Any] = {}


def observe(method: str, endpoint: str, status: int, elapsed: float | None) -> None:
    """Count one answered request and record its latency (the Flask hooks and the code-fetch front)."""
    if elapsed is not None:
        timer = _timers.get((method, endpoint))
        if timer is None:
            timer = _timers[(method, endpoint)] = LATENCY.labels(method, endpoint)
        timer.observe(elapsed)
    counter = _counters.get((method, endpoint, status))
    if counter is None:
        counter = _counters[(method, endpoint, status)] = REQUESTS.labels(method, endpoint, str(status))
    counter.inc()


def init_metrics(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        start_timer()

    @app.after_request
    def _record(response: Response) -> Response:
        observe(request.method, request.endpoint or "unmatched", response.status_code, request_seconds())
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus exposition of this service's metrics."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
