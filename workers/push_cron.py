"""The push schedule, as data, run by RQ's cron scheduler: ``python -m workers.push_cron``.

Run exactly one of these next to the workers (``make run`` / docker-compose). It only enqueues;
the workers do the work. Intervals and cron expressions come from the settings.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any


def schedule(config: Any) -> list[dict[str, Any]]:
    """What runs when: the tick every ``PUSH_TICK_SECONDS``, the calendar at ``PUSH_CALENDAR_CRON`` (UTC)."""
    return [
        {"func": "workers.push.tick", "interval": config["PUSH_TICK_SECONDS"]},
        {"func": "workers.push.run_calendar", "cron": config["PUSH_CALENDAR_CRON"]},
    ]


def main(argv: list[str] | None = None) -> int:
    from rq.cron import CronScheduler

    from app import create_app
    from app.extensions import redis_store

    app = create_app()
    cron = CronScheduler(connection=redis_store.client)
    for entry in schedule(app.config):
        module, _, name = entry.pop("func").rpartition(".")
        cron.register(getattr(importlib.import_module(module), name), app.config["QUEUE_NAME"], **entry)
    cron.start()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
