"""The production worker settings in ``gunicorn.conf.py``, read by gunicorn itself: the measured
choice (sync workers, two per core; docs/performance.md, "Worker class, again") and the
documented way back to threaded workers."""

from __future__ import annotations

import os

import pytest

from loadtests.processes import gunicorn_settings


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch):
    for name in ("SHUIMA_WEB_WORKER_CLASS", "SHUIMA_WEB_WORKERS", "SHUIMA_WEB_THREADS", "SHUIMA_WEB_BIND",
                 "SHUIMA_WEB_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


def test_production_runs_sync_workers_two_per_core():
    cfg = gunicorn_settings()
    assert cfg.worker_class.__name__ == "SyncWorker"
    assert cfg.workers == 2 * os.cpu_count()
    assert cfg.threads == 1
    assert cfg.bind == ["127.0.0.1:8000"] and cfg.timeout == 180


def test_threaded_workers_come_back_with_the_documented_variables(monkeypatch):
    monkeypatch.setenv("SHUIMA_WEB_WORKER_CLASS", "gthread")
    monkeypatch.setenv("SHUIMA_WEB_WORKERS", "2")
    monkeypatch.setenv("SHUIMA_WEB_THREADS", "4")
    cfg = gunicorn_settings()
    assert cfg.worker_class.__name__ == "ThreadWorker"
    assert (cfg.workers, cfg.threads) == (2, 4)
