"""The RQ worker: ``python -m workers.main`` (what ``make run`` and docker-compose start)."""

from __future__ import annotations

import sys

from rq import Worker


def main(argv: list[str] | None = None) -> int:
    from app import create_app
    from app.extensions import redis_store

    app = create_app()
    with app.app_context():
        assert redis_store.queue is not None and redis_store.client is not None
        worker = Worker([redis_store.queue], connection=redis_store.client)
        worker.work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
