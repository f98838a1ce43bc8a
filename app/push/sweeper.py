"""The push tick: everything that happens because time passed, run every ``PUSH_TICK_SECONDS``.

1. ``matched`` rows whose quiet hours are over are decided again (the cap may hold them now);
2. ``held`` rows whose digest time has come go out together, one digest per taxpayer and channel;
   in both steps a row whose policy was withdrawn or ran past ``valid_to`` while it waited is
   ``suppressed`` instead (reason ``withdrawn`` or ``expired``);
3. ``queued`` rows past their ``due_at`` (a retry that is due, or a lease that ran out because
   a worker died) are dispatched again: this is the sweeper; here too a row whose policy ran
   past ``valid_to`` meanwhile is ``suppressed`` (a withdrawal suppresses pending rows itself);
4. fan-out chunks still pending long after they were enqueued, and published policies whose
   planner never finished, are enqueued again.

Every step is idempotent, so two ticks overlapping do no harm.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update

from app.push.delivery import (
    PREFERENCE_COLUMNS, dispatch, preferences_from, sent_today, suppress_lapsed, update_by_ids,
)
from app.push.domain import PolicyStatus, Status, decide
from app.push.fanout import MATCH_JOB
from app.push.models import Delivery, FanoutChunk, Policy, Preference
from app.push.settings import Jobs, PushSettings

PLAN_JOB = "workers.push.plan_fanout"
#: Rows looked at per pass, so one tick never loads an unbounded set.
BATCH = 5000


def tick(*, session_factory: Any, settings: PushSettings, jobs: Jobs, now: datetime) -> dict[str, int]:
    """Run steps 1–4 once; returns how many rows/chunks/policies each step touched."""
    return {
        "released": release_quiet(session_factory=session_factory, settings=settings, jobs=jobs, now=now),
        "digested": release_digests(session_factory=session_factory, settings=settings, jobs=jobs, now=now),
        "redispatched": redispatch(session_factory=session_factory, settings=settings, jobs=jobs, now=now),
        **sweep_fanouts(session_factory=session_factory, settings=settings, jobs=jobs, now=now),
    }


def _policy_of(row: Any) -> tuple[str, datetime | None]:
    """The (status, valid_to) of a waiting row's policy, selected beside it (``suppress_lapsed``)."""
    return row.policy_status, row.valid_to


def release_quiet(*, session_factory: Any, settings: PushSettings, jobs: Jobs, now: datetime) -> int:
    """Step 1: re-decide rows that waited for the end of quiet hours."""
    released = 0
    while True:
        with session_factory() as session:
            rows = session.execute(
                select(Delivery.id, Delivery.uscc, Delivery.channel, Policy.category, Policy.critical,
                       Policy.status.label("policy_status"), Policy.valid_to, *PREFERENCE_COLUMNS)
                .join(Policy, Policy.id == Delivery.policy_id)
                .outerjoin(Preference, Preference.uscc == Delivery.uscc)
                .where(Delivery.status == Status.MATCHED.value, Delivery.due_at <= now)
                .order_by(Delivery.uscc, Delivery.id).limit(BATCH)).all()  # by USCC: the cap count scans a range
            if not rows:
                return released
            counts = sent_today(session, list({r.uscc for r in rows}), now)
            outcomes: dict[tuple[Any, ...], list[int]] = defaultdict(list)
            for row in suppress_lapsed(session, rows, Delivery.status == Status.MATCHED.value, now=now,
                                       policy_of=_policy_of):
                key = (row.uscc, row.channel)
                d = decide(category=row.category, critical=row.critical, channel=row.channel,
                           prefs=preferences_from(row, settings), now=now, sent_today=counts.get(key, 0))
                if d.status is Status.QUEUED:
                    counts[key] = counts.get(key, 0) + 1
                    outcomes[(d.status.value, d.reason, now + settings.sweep_after, now)].append(row.id)
                else:  # held for the digest, or quiet again in another window: wait on
                    outcomes[(d.status.value, d.reason, d.due_at, None)].append(row.id)
            # A few distinct outcomes: one UPDATE per outcome and slice, not one per row.
            for (status, reason, due_at, queued_at), ids in outcomes.items():
                update_by_ids(session, ids, Delivery.status == Status.MATCHED.value,
                              status=status, reason=reason, due_at=due_at, queued_at=queued_at)
            session.commit()
        ids = [r.id for r in rows]
        released += dispatch(session_factory, Delivery.id.in_(ids), now=now, settings=settings, jobs=jobs)
        if len(rows) < BATCH:
            return released


def release_digests(*, session_factory: Any, settings: PushSettings, jobs: Jobs, now: datetime) -> int:
    """Step 2: all due ``held`` rows of one taxpayer and channel become one digest (same ``digest_id``)."""
    with session_factory() as session:
        rows = session.execute(select(Delivery.id, Delivery.uscc, Delivery.channel,
                                      Policy.status.label("policy_status"), Policy.valid_to)
                               .join(Policy, Policy.id == Delivery.policy_id)
                               .where(Delivery.status == Status.HELD.value, Delivery.due_at <= now)
                               .order_by(Delivery.uscc, Delivery.id).limit(BATCH)).all()
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for row in suppress_lapsed(session, rows, Delivery.status == Status.HELD.value, now=now, policy_of=_policy_of):
            groups[(row.uscc, row.channel)].append(row.id)
        for ids in groups.values():
            update_by_ids(session, ids, Delivery.status == Status.HELD.value, status=Status.QUEUED.value,
                          digest_id=min(ids), queued_at=now, due_at=now + settings.sweep_after)
        session.commit()
    if not rows:
        return 0
    return dispatch(session_factory, Delivery.id.in_([r.id for r in rows]), now=now, settings=settings, jobs=jobs)


def redispatch(*, session_factory: Any, settings: PushSettings, jobs: Jobs, now: datetime) -> int:
    """Step 3: dispatch the due ``queued`` rows again, but not those whose policy lapsed while they
    waited — an inbox row left queued by a worker that died before dispatching it would otherwise
    land in the inbox after its policy's ``valid_to`` (send jobs check webhook rows again as they post)."""
    due = (Delivery.status == Status.QUEUED.value, Delivery.due_at <= now)
    with session_factory() as session:
        rows = session.execute(select(Delivery.id, Policy.status.label("policy_status"), Policy.valid_to)
                               .join(Policy, Policy.id == Delivery.policy_id)
                               .where(*due, or_(Policy.status != PolicyStatus.PUBLISHED.value, Policy.valid_to <= now))
                               ).all()  # only rows whose policy may have lapsed: ``lapsed`` decides
        if rows:
            suppress_lapsed(session, rows, *due, now=now, policy_of=_policy_of)
            session.commit()
    return dispatch(session_factory, Delivery.due_at <= now, now=now, settings=settings, jobs=jobs)


def sweep_fanouts(*, session_factory: Any, settings: PushSettings, jobs: Jobs, now: datetime) -> dict[str, int]:
    """Step 4: re-enqueue stale pending chunks and unfinished plans (a worker died mid-fan-out)."""
    stale = now - settings.sweep_after
    with session_factory() as session:
        chunk_ids = list(session.scalars(select(FanoutChunk.id).where(
            FanoutChunk.status == "pending", FanoutChunk.enqueued_at <= stale)))
        policy_ids = list(session.scalars(select(Policy.id).where(
            Policy.status == PolicyStatus.PUBLISHED.value, Policy.planned_at.is_(None),
            or_(Policy.plan_enqueued_at.is_(None), Policy.plan_enqueued_at <= stale))))
        if chunk_ids:
            session.execute(update(FanoutChunk).where(FanoutChunk.id.in_(chunk_ids)).values(enqueued_at=now)
                            .execution_options(synchronize_session=False))
        if policy_ids:
            session.execute(update(Policy).where(Policy.id.in_(policy_ids)).values(plan_enqueued_at=now)
                            .execution_options(synchronize_session=False))
        session.commit()
    jobs.enqueue_many(MATCH_JOB, [(cid,) for cid in chunk_ids])
    jobs.enqueue_many(PLAN_JOB, [(pid,) for pid in policy_ids])
    return {"chunks_requeued": len(chunk_ids), "plans_requeued": len(policy_ids)}
