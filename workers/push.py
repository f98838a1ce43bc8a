"""Jobs of the push module. Each takes ids, opens its own sessions, re-raises on failure and is
safe to run twice (the delivery table's unique key and conditional updates make it so)."""

from __future__ import annotations

from app.extensions import db
from app.push import fanout, service, sweeper
from app.push.calendar import load_reminders
from app.push.delivery import send_webhooks as _send_webhooks
from app.push.settings import push
from app.services import services


def plan_fanout(policy_id: int, scope: str = fanout.ALL) -> int:
    """Split a publish into chunk jobs; returns how many were enqueued."""
    p = push()
    return fanout.plan_fanout(policy_id, scope=scope, session_factory=db.session, settings=p.settings, jobs=p.jobs,
                              now=services().clock.now())


def match_chunk(chunk_id: int) -> int:
    """Match, write and dispatch one chunk; returns the taxpayers matched."""
    p = push()
    return fanout.match_chunk(chunk_id, session_factory=db.session, settings=p.settings, jobs=p.jobs,
                              now=services().clock.now())


def send_webhooks(delivery_ids: list[int]) -> dict[str, int]:
    """POST a batch of webhook messages to the gateway; returns sent/retry/failed counts."""
    p = push()
    if p.gateway is None:  # the channel was switched off after these rows were queued
        raise RuntimeError("webhook rows queued but SHUIMA_PUSH_WEBHOOK_URL is not set")
    return _send_webhooks(delivery_ids, session_factory=db.session, gateway=p.gateway, settings=p.settings,
                          now=services().clock.now())


def tick() -> dict[str, int]:
    """Release quiet-hour and digest rows, retry due webhooks, sweep stuck rows and chunks."""
    p = push()
    return sweeper.tick(session_factory=db.session, settings=p.settings, jobs=p.jobs, now=services().clock.now())


def run_calendar() -> list[str]:
    """Publish the calendar reminders due today; returns their keys."""
    p = push()
    s = services()
    return service.run_calendar(reminders=load_reminders(p.settings.calendar_file), holidays=p.settings.holidays,
                                uow=s.uow(), clock=s.clock, jobs=p.jobs)
