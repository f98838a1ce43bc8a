"""Delivery rows: write them (once), hand queued ones to their channel, send webhook batches.

The order is always: decide and *insert* the rows (``ON CONFLICT DO NOTHING`` on
(policy, taxpayer, channel)) and commit; then dispatch whatever is ``queued``. A crash between
the two leaves ``queued`` rows whose ``due_at`` lease runs out, and the sweeper dispatches
them again; dispatching is idempotent (inbox: a conditional UPDATE; webhook: a claim).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.fields import local_iso
from app.push.domain import (
    COUNTED, Channel, Preferences, QuietHours, Status, backoff_seconds, decide, is_permanent_http_failure, lapsed,
    local_day_start,
)
from app.push.models import Delivery, Policy, Preference
from app.push.settings import SEND_JOB, Jobs, PushSettings
from app.push.webhook import Gateway

log = logging.getLogger(__name__)

#: Ids per ``UPDATE … WHERE id IN (…)``, keeping each statement well inside SQLite's parameter limit.
ID_SLICE = 1000


def insert_ignoring_duplicates(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Bulk INSERT … ON CONFLICT DO NOTHING (PostgreSQL and SQLite)."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(model).on_conflict_do_nothing(), rows)


def update_by_ids(session: Session, ids: Sequence[int], *where: ColumnElement[bool], **values: Any) -> None:
    """Set ``values`` on the deliveries among ``ids`` that also satisfy ``where``, a slice at a time."""
    for start in range(0, len(ids), ID_SLICE):
        session.execute(update(Delivery).where(Delivery.id.in_(ids[start:start + ID_SLICE]), *where)
                        .values(**values).execution_options(synchronize_session=False))


def preferences_from(row: Any, settings: PushSettings) -> Preferences:
    """A taxpayer's ``Preferences`` from a ``Preference`` row or the outer-joined ``PREFERENCE_COLUMNS``;
    a missing row (None, or all columns NULL) and each NULL column take the settings' defaults."""
    if row is None:
        return settings.default_preferences()
    quiet = settings.quiet_hours if row.quiet_hours is None else QuietHours.parse(row.quiet_hours)
    return Preferences(
        opt_out_categories=frozenset(row.opt_out_categories or ()),
        opt_out_channels=frozenset(row.opt_out_channels or ()),
        quiet_hours=quiet,
        daily_cap=settings.daily_cap if row.daily_cap is None else row.daily_cap,
    )


#: Columns to select next to a taxpayer so ``preferences_from`` can read them (outer join).
PREFERENCE_COLUMNS = (
    Preference.opt_out_categories, Preference.opt_out_channels, Preference.quiet_hours, Preference.daily_cap,
)


def channels(settings: PushSettings) -> list[str]:
    return [Channel.INBOX.value] + ([Channel.WEBHOOK.value] if settings.webhook_enabled else [])


def sent_today(session: Session, usccs: Sequence[str], now: datetime) -> dict[tuple[str, str], int]:
    """Messages already handed over today (local day) per (uscc, channel): the cap's count."""
    if not usccs:
        return {}
    wanted = set(usccs)
    # One index range scan over the chunk's key range beats probing thousands of IN values.
    stmt = (select(Delivery.uscc, Delivery.channel, func.count())
            .where(Delivery.uscc >= min(wanted), Delivery.uscc <= max(wanted),
                   Delivery.queued_at >= local_day_start(now), Delivery.status.in_(COUNTED))
            .group_by(Delivery.uscc, Delivery.channel))
    return {(uscc, channel): count for uscc, channel, count in session.execute(stmt) if uscc in wanted}


def write_deliveries(session: Session, policy: Policy, matched: Sequence[Any], *, now: datetime,
                     settings: PushSettings) -> int:
    """Insert one row per matched taxpayer and channel with its decided status; returns rows offered.

    ``matched`` rows carry ``uscc`` and the ``PREFERENCE_COLUMNS``. Existing rows win (no update).
    """
    counts = sent_today(session, [m.uscc for m in matched], now)
    lease = now + settings.sweep_after
    rows: list[dict[str, Any]] = []
    for m in matched:
        prefs = preferences_from(m, settings)
        for channel in channels(settings):
            d = decide(category=policy.category, critical=policy.critical, channel=channel, prefs=prefs, now=now,
                       sent_today=counts.get((m.uscc, channel), 0))
            queued = d.status is Status.QUEUED
            rows.append({
                "policy_id": policy.id, "uscc": m.uscc, "channel": channel, "status": d.status.value,
                "reason": d.reason, "bypassed": ",".join(d.bypassed) or None, "attempts": 0,
                "matched_at": now, "due_at": lease if queued else d.due_at, "queued_at": now if queued else None,
            })
    insert_ignoring_duplicates(session, Delivery, rows)
    return len(rows)


def dispatch(session_factory: Any, where: ColumnElement[bool], *, now: datetime, settings: PushSettings,
             jobs: Jobs) -> int:
    """Hand the ``queued`` rows selected by ``where`` to their channel; returns rows handled.

    Inbox rows become ``delivered`` at once (the row *is* the inbox message). Webhook rows get
    a fresh lease and go to send jobs in batches, a digest's rows always in the same batch.
    """
    with session_factory() as session:
        delivered = session.execute(
            update(Delivery)
            .where(where, Delivery.status == Status.QUEUED.value, Delivery.channel == Channel.INBOX.value)
            .values(status=Status.DELIVERED.value, sent_at=now, delivered_at=now, due_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        webhook = session.execute(
            select(Delivery.id, Delivery.digest_id)
            .where(where, Delivery.status == Status.QUEUED.value, Delivery.channel == Channel.WEBHOOK.value,
                   or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now))
            .order_by(Delivery.digest_id, Delivery.id)
        ).all()
        ids = [row.id for row in webhook]
        update_by_ids(session, ids, due_at=now + settings.sweep_after)
        session.commit()
    batches: list[tuple] = []
    batch: list[int] = []
    previous_group = None
    for row in webhook:
        group = row.digest_id or row.id
        if len(batch) >= settings.webhook_batch and group != previous_group:
            batches.append((batch,))
            batch = []
        batch.append(row.id)
        previous_group = group
    if batch:
        batches.append((batch,))
    if batches:
        jobs.enqueue_many(SEND_JOB, batches)
    return delivered + len(ids)


def _message(group: list[Any], policies: dict[int, Policy], now: datetime) -> dict[str, Any]:
    first = group[0]
    return {
        "uscc": first.uscc,
        "digest": len(group) > 1,
        "delivery_ids": [row.id for row in group],
        "messages": [{"policy_id": row.policy_id, "title": policies[row.policy_id].title,
                      "body": policies[row.policy_id].body, "category": policies[row.policy_id].category,
                      "critical": policies[row.policy_id].critical} for row in group],
        "sent_at": local_iso(now),
    }


def suppress_lapsed(session: Session, rows: list[Any], *where: ColumnElement[bool], now: datetime,
                    policy_of: Callable[[Any], tuple[str, datetime | None]]) -> list[Any]:
    """The rows whose policy may still go out; the others — a message that waited (quiet hours, the
    cap, a retry) while its policy was withdrawn or passed ``valid_to`` — become ``suppressed`` with
    the reason (``lapsed``), among the rows still matching ``where``. ``policy_of(row)`` gives the
    policy's (status, valid_to). The caller commits."""
    live: list[Any] = []
    gone: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        status, valid_to = policy_of(row)
        reason = lapsed(status=status, valid_to=valid_to, now=now)
        if reason is None:
            live.append(row)
        else:
            gone[reason].append(row.id)
    for reason, ids in gone.items():
        update_by_ids(session, ids, *where, status=Status.SUPPRESSED.value, reason=reason, due_at=None,
                      claimed_until=None)
    return live


def claim(session: Session, ids: Sequence[int], *, now: datetime, until: datetime) -> list[int]:
    """Lease to this job, until ``until``, the queued rows among ``ids`` that no live claim holds; returns their ids.

    ``RETURNING`` reports exactly the rows this UPDATE changed, so a row another job claimed
    after this one was enqueued (or while it runs) is not returned, and not this job's to send.
    """
    claimed: list[int] = []
    for start in range(0, len(ids), ID_SLICE):
        claimed += session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids[start:start + ID_SLICE]), Delivery.status == Status.QUEUED.value,
                   or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now))
            .values(claimed_until=until, attempts=Delivery.attempts + 1)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        ).scalars().all()
    return claimed


def send_webhooks(ids: Iterable[int], *, session_factory: Any, gateway: Gateway, settings: PushSettings,
                  now: datetime) -> dict[str, int]:
    """Claim the queued rows among ``ids``, POST one message per row (one per digest), record outcomes.

    A 2xx makes the rows ``sent``. A retryable failure keeps them ``queued`` with ``due_at`` set
    by the backoff; a permanent failure, or the last attempt, makes them ``failed`` (dead letter)
    with the error. Only the rows this job claimed are posted, so a duplicated job, or one racing
    another over the same rows, sends nothing twice. The claim's end (``PushSettings.send_lease``) doubles as
    this job's token: should a gateway overrun its timeout until the lease runs out and the
    sweeper hands the rows to another job, this one posts and records nothing more.
    """
    ids = list(ids)
    lease = now + settings.send_lease(len(ids))
    with session_factory() as session:
        claimed = claim(session, ids, now=now, until=lease)
        session.commit()
        rows = list(session.execute(select(Delivery.id, Delivery.uscc, Delivery.policy_id, Delivery.digest_id,
                                           Delivery.attempts).where(Delivery.id.in_(claimed))))
        policies = {p.id: p for p in session.scalars(select(Policy).where(Policy.id.in_({r.policy_id for r in rows})))}
        groups: dict[int, list[Any]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: r.id):
            groups[row.digest_id or row.id].append(row)
        outcome = {"sent": 0, "retry": 0, "failed": 0}
        still_ours = (Delivery.status == Status.QUEUED.value, Delivery.claimed_until == lease)
        for group in groups.values():
            group_ids = [row.id for row in group]
            if session.scalar(select(func.count()).where(Delivery.id.in_(group_ids), *still_ours)) != len(group):
                log.warning("push webhook: lease on rows %s ran out mid-batch; another job sends them", group_ids)
                continue
            live = suppress_lapsed(session, group, *still_ours, now=now,
                                   policy_of=lambda row: (policies[row.policy_id].status,
                                                          policies[row.policy_id].valid_to))
            if len(live) < len(group):
                session.commit()
            if not live:
                continue
            group = live
            group_ids = [row.id for row in group]
            result = gateway.send(_message(group, policies, now), key=",".join(map(str, group_ids)),
                                  timestamp=int(now.timestamp()))
            attempts = max(row.attempts for row in group)
            if result.ok:
                values: dict[str, Any] = {"status": Status.SENT.value, "sent_at": now, "due_at": None,
                                          "claimed_until": None, "error": None}
                outcome["sent"] += len(group)
            elif is_permanent_http_failure(result.status or 0) or attempts >= settings.webhook_max_attempts:
                values = {"status": Status.FAILED.value, "due_at": None, "claimed_until": None,
                          "error": f"{result.error} after {attempts} attempt(s)"}
                outcome["failed"] += len(group)
            else:
                wait = backoff_seconds(attempts, settings.webhook_backoff)
                values = {"due_at": now + timedelta(seconds=wait), "claimed_until": None, "error": result.error}
                outcome["retry"] += len(group)
            update_by_ids(session, group_ids, *still_ours, **values)
            session.commit()  # per message: a crash later cannot undo what the gateway already has
    if outcome["failed"]:
        log.warning("push webhook: %s message row(s) dead-lettered", outcome["failed"])
    return outcome
