"""Job: run the worker-side subscribers of one committed domain event."""

from __future__ import annotations

from app.db import utcnow
from app.events import OutboxEvent, bus
from app.extensions import db


def deliver_event(event_id: int) -> str:
    """Run async subscribers for outbox row ``event_id`` and mark it dispatched.

    Safe to run twice: subscribers are idempotent by contract, and a row already marked is
    run again only if the job is re-enqueued on purpose. Re-raises on failure so RQ records it.
    """
    with db.session() as session:
        row = session.get(OutboxEvent, event_id)
        if row is None:
            return "missing"
        bus.run_async(row.type, row.payload)
        row.dispatched_at = utcnow()
        session.commit()
        return "dispatched"
