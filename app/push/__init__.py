"""Preference push (惠推送): policies as rules, matched and delivered to each taxpayer, once.

    domain.py     categories, channels, the delivery lifecycle, the send decision (pure)
    rules.py      the JsonLogic subset: grammar, validation into a typed tree (pure)
    evaluate.py   the tree in memory: verdict, explanation, profiles (pure)
    sqlrules.py   the tree as a SQL predicate (same semantics, property-tested)
    calendar.py   recurring reminders as data, working-day rules (pure)
    models.py     tables;  repository.py  queries
    service.py    staff use cases (policies, preview, publish, counts, tags, calendar)
    inbox.py      taxpayer use cases (inbox, explanation, preferences)
    fanout.py     planner and chunk matching, re-matching on taxpayer events
    delivery.py   writing rows once, dispatching, sending webhook batches
    sweeper.py    the periodic tick: quiet-hour release, digests, retries, sweeping
    webhook.py    the push-gateway boundary (HMAC-signed POST) and its fake
    settings.py   settings, the job-queue boundary, ``push()``
"""

from __future__ import annotations

from typing import Any

from flask import Flask

_subscribed = False


def register(app: Flask) -> None:
    """Attach the push wiring to ``app`` and subscribe to taxpayer events (once per process)."""
    global _subscribed
    from app.events import bus
    from app.push.settings import build_push

    app.extensions["shuima.push"] = build_push(app)
    if not _subscribed:  # the bus is process-wide; handlers look the app up when they run
        bus.subscribe("GradeChanged", on_taxpayer_changed, in_worker=True)
        bus.subscribe("TagsChanged", on_taxpayer_changed, in_worker=True)
        bus.subscribe("GradesImported", on_grades_imported, in_worker=True)
        _subscribed = True


def on_taxpayer_changed(payload: dict[str, Any]) -> None:
    """A grade, state or tags changed: offer the live policies that now fit (e.g. credit repair on turning red)."""
    from app.extensions import db
    from app.push.fanout import rematch_taxpayer
    from app.push.settings import push
    from app.services import services

    p = push()
    rematch_taxpayer(payload["uscc"], session_factory=db.session, settings=p.settings, jobs=p.jobs,
                     now=services().clock.now())


def on_grades_imported(payload: dict[str, Any]) -> None:
    """A bulk import created or changed taxpayers: fan the live policies out to exactly those."""
    from app.extensions import db
    from app.push.fanout import rematch_import
    from app.push.settings import push
    from app.services import services

    p = push()
    rematch_import(int(payload["import_id"]), session_factory=db.session, settings=p.settings, jobs=p.jobs,
                   now=services().clock.now())
