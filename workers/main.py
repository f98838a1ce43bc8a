"""The RQ worker: ``python -m workers.main`` (what ``make run`` and docker-compose start)."""

from __future__ import annotations

import sys

from rq import Worker


class ShuimaWorker(Worker):
    """RQ's forking worker, with the database pool dropped in each forked job process.

    A forked child inherits the parent's pooled connections; using them from two processes
    corrupts the PostgreSQL protocol stream. ``dispose(close=False)`` forgets them in the child
    without closing the parent's sockets.
    """

    def main_work_horse(self, job, queue):  # type: ignore[no-untyped-def]
        from app.extensions import db

        if db.engine is not None:
            db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)


def main(argv: list[str] | None = None) -> int:
    from app import create_app
    from app.extensions import redis_store

    app = create_app()
    with app.app_context():
        assert redis_store.queue is not None and redis_store.client is not None
        worker = ShuimaWorker([redis_store.queue], connection=redis_store.client)
        worker.work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
