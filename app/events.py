"""Domain events: an outbox table plus an in-process bus.

A use case collects events on its unit of work. On commit the events are written to
``outbox_events`` in the same transaction (``stage``); once the commit succeeds the bus
(``dispatch``)

1. runs the *sync* subscribers in-process (e.g. refresh the Redis cache: must happen
   before the request returns so the next read sees the change),
2. enqueues one RQ job per event that has *async* subscribers (e.g. push re-matching),
   which runs them in a worker and marks the row dispatched — at-least-once, so async
   subscribers must be idempotent,
3. publishes the event on the Redis channel ``shuima:events`` for live listeners.

Subscribing is done in ``create_app`` so web, worker and CLI processes agree.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import defaultdict
from datetime import date, datetime
from typing import Any, Callable

from rq import Queue, Retry
from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, UtcDateTime, utcnow

log = logging.getLogger(__name__)

#: Redis pub/sub channel on which every committed event is announced.
CHANNEL = "shuima:events"

Handler = Callable[[dict[str, Any]], None]


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


def event_payload(event: Any) -> dict[str, Any]:
    """A JSON-ready dict of a dataclass event (datetimes as ISO 8601)."""

    def plain(value: Any) -> Any:
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        return value

    return {key: plain(value) for key, value in dataclasses.asdict(event).items()}


#: Seconds before each new attempt at an event's worker-side subscribers after a failure (a locked
#: database, a dropped connection): RQ's scheduler re-runs the job, so a transient error does not
#: leave the event pending until someone runs ``shuima events replay``. After the last one the job
#: stays in RQ's failed registry and the row stays pending (replay sends it once mended).
DELIVERY_RETRY_SECONDS = (10, 60, 300)


def enqueue_delivery(queue: Queue, event_id: int) -> None:
    """Queue the job that runs outbox row ``event_id``'s worker-side subscribers, with retries."""
    queue.enqueue("workers.events.deliver_event", event_id,
                  retry=Retry(max=len(DELIVERY_RETRY_SECONDS), interval=list(DELIVERY_RETRY_SECONDS)))


class EventBus:
    """Routes committed events to subscribers; see the module docstring for the order."""

    def __init__(self) -> None:
        self._sync: dict[str, list[Handler]] = defaultdict(list)
        self._async: dict[str, list[Handler]] = defaultdict(list)
        self.redis: Any = None
        self.enqueue: Callable[[int], None] | None = None

    def subscribe(self, event_type: str, handler: Handler, *, in_worker: bool = False) -> Callable[[], None]:
        """Register ``handler``; returns a function that removes it again."""
        handlers = (self._async if in_worker else self._sync)[event_type]
        handlers.append(handler)
        return lambda: handlers.remove(handler)

    def stage(self, session: Session, events: list[Any]) -> list[OutboxEvent]:
        rows = [OutboxEvent(type=e.type, payload=event_payload(e)) for e in events]
        session.add_all(rows)
        session.flush()
        return rows

    def dispatch(self, rows: list[OutboxEvent]) -> None:
        for row in rows:
            for handler in self._sync.get(row.type, []):
                handler(row.payload)
            if self._async.get(row.type) and self.enqueue is not None:
                try:
                    self.enqueue(row.id)
                except Exception:  # noqa: BLE001 - the row stays pending; `shuima events replay` sends it
                    log.error("could not enqueue event %s; it stays pending in the outbox", row.id, exc_info=True)
            self._announce(row)

    def replay(self, session: Session) -> int:
        """Enqueue every undispatched outbox row that has worker-side subscribers; returns the count."""
        if self.enqueue is None:
            return 0
        types = [t for t, handlers in self._async.items() if handlers]
        rows = session.scalars(
            select(OutboxEvent.id).where(OutboxEvent.dispatched_at.is_(None), OutboxEvent.type.in_(types))
            .order_by(OutboxEvent.id)
        ).all()
        for event_id in rows:
            self.enqueue(event_id)
        return len(rows)

    def run_async(self, row_type: str, payload: dict[str, Any]) -> None:
        """Run the worker-side subscribers of one event (called by the job)."""
        for handler in self._async.get(row_type, []):
            handler(payload)

    def _announce(self, row: OutboxEvent) -> None:
        if self.redis is None:
            return
        message = json.dumps({"id": row.id, "type": row.type, "payload": row.payload}, ensure_ascii=False)
        try:
            self.redis.publish(CHANNEL, message)
        except Exception:  # noqa: BLE001 - the outbox row stays; announcing is best effort
            log.warning("could not announce event %s on Redis", row.id, exc_info=True)


bus = EventBus()
