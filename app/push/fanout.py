"""Fan-out: who gets a policy, found in bulk and in chunks, always inside RQ jobs.

``plan_fanout`` splits the taxpayer key space into chunks of ``PUSH_CHUNK_SIZE``, records
them in ``push_chunks`` and enqueues one ``match_chunk`` job per pending chunk. Each chunk job
runs the rule compiled to SQL over its USCC range, writes the delivery rows and marks the
chunk done in one transaction, then dispatches. Taxpayer events re-match one taxpayer (grade
change) or the taxpayers of one import against every live policy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.sql.elements import ColumnElement

from app.clock import local_date
from app.push.delivery import PREFERENCE_COLUMNS, dispatch, insert_ignoring_duplicates, write_deliveries
from app.push.domain import PolicyStatus, in_region_scope, is_live
from app.push.evaluate import evaluate, taxpayer_profile
from app.push.models import Delivery, FanoutChunk, Policy, Preference
from app.push.repository import SqlAlchemyInboxRepository
from app.push.rules import parse_rule
from app.push.settings import Jobs, PushSettings
from app.push.sqlrules import compile_region_scope, compile_rule
from app.taxpayers.models import Taxpayer

MATCH_JOB = "workers.push.match_chunk"
ALL = "all"


def _live(policy: Policy | None, now: datetime) -> bool:
    return policy is not None and is_live(status=policy.status, valid_from=policy.valid_from,
                                          valid_to=policy.valid_to, now=now)


def live_policies(session: Any, now: datetime) -> list[Policy]:
    rows = session.scalars(select(Policy).where(Policy.status == PolicyStatus.PUBLISHED.value))
    return [p for p in rows if _live(p, now)]


def _scope_filter(scope: str) -> ColumnElement[bool] | None:
    """``import:<id>``: the taxpayers that import created or changed, grade or profile alike (a firm
    that moved county fits a county's policy now); anything else: every taxpayer."""
    if scope.startswith("import:"):
        return Taxpayer.changed_by_import_id == int(scope.split(":", 1)[1])
    return None


def plan_fanout(policy_id: int, *, scope: str = ALL, session_factory: Any, settings: PushSettings, jobs: Jobs,
                now: datetime) -> int:
    """Record the chunks of a policy's fan-out and enqueue their jobs; returns chunks enqueued.

    Safe to run twice: chunks are unique per (policy, scope, first USCC) and only pending ones
    are enqueued (a duplicate chunk job finds its chunk done, or inserts nothing new).
    """
    with session_factory() as session:
        policy = session.get(Policy, policy_id)
        if not _live(policy, now):
            return 0
        stmt = select(Taxpayer.uscc).order_by(Taxpayer.uscc)
        extra = _scope_filter(scope)
        if extra is not None:
            stmt = stmt.where(extra)
        usccs = list(session.scalars(stmt))
        size = settings.chunk_size
        chunks = [{"policy_id": policy_id, "scope": scope, "lo": usccs[i], "hi": usccs[min(i + size, len(usccs)) - 1],
                   "status": "pending", "enqueued_at": now} for i in range(0, len(usccs), size)]
        insert_ignoring_duplicates(session, FanoutChunk, chunks)
        if scope == ALL:
            policy.planned_at = now  # type: ignore[union-attr]
        pending = list(session.scalars(select(FanoutChunk.id).where(
            FanoutChunk.policy_id == policy_id, FanoutChunk.scope == scope, FanoutChunk.status == "pending")))
        session.commit()
    jobs.enqueue_many(MATCH_JOB, [(chunk_id,) for chunk_id in pending])
    return len(pending)


def match_chunk(chunk_id: int, *, session_factory: Any, settings: PushSettings, jobs: Jobs, now: datetime) -> int:
    """Match one chunk with the compiled rule, write its deliveries, mark it done, dispatch; returns matches."""
    with session_factory() as session:
        chunk = session.get(FanoutChunk, chunk_id)
        if chunk is None or chunk.status == "done":
            return 0
        policy = session.get(Policy, chunk.policy_id)
        where = [Taxpayer.uscc >= chunk.lo, Taxpayer.uscc <= chunk.hi]
        matched: list[Any] = []
        if _live(policy, now):
            assert policy is not None
            tree = parse_rule(policy.rule)
            where += [compile_rule(tree, today=local_date(now)),
                      compile_region_scope(policy.region_scope or [])]
            extra = _scope_filter(chunk.scope)
            if extra is not None:
                where.append(extra)
            matched = list(session.execute(
                select(Taxpayer.uscc, *PREFERENCE_COLUMNS).outerjoin(Preference, Preference.uscc == Taxpayer.uscc)
                .where(*where)))
            write_deliveries(session, policy, matched, now=now, settings=settings)
            if not _still_live(session, [policy.id], now):  # withdrawn while this chunk was matched
                session.rollback()  # nothing written; run again, it finds the policy gone and closes the chunk
                return match_chunk(chunk_id, session_factory=session_factory, settings=settings, jobs=jobs, now=now)
        chunk.status, chunk.matched, chunk.done_at = "done", len(matched), now
        session.commit()
        policy_id, lo, hi = chunk.policy_id, chunk.lo, chunk.hi
    if matched:
        dispatch(session_factory, and_(Delivery.policy_id == policy_id, Delivery.uscc >= lo, Delivery.uscc <= hi),
                 now=now, settings=settings, jobs=jobs)
    return len(matched)


def _still_live(session: Any, policy_ids: list[int], now: datetime) -> bool:
    """Read the policies again under a share lock (one query), after this transaction has written their rows.

    A withdrawal (an UPDATE of the policy, which then suppresses its pending rows) either
    committed before this read, which then sees it, or waits until this transaction ends, and
    its suppression then covers the rows written here. (SQLite: the rows' INSERT already holds
    the database's write lock, so the read sees every committed withdrawal.)"""
    if not policy_ids:
        return True
    policies = session.execute(select(Policy).where(Policy.id.in_(policy_ids)).with_for_update(read=True)
                               .execution_options(populate_existing=True)).scalars().all()
    return len(policies) == len(set(policy_ids)) and all(_live(policy, now) for policy in policies)


def rematch_taxpayer(uscc: str, *, session_factory: Any, settings: PushSettings, jobs: Jobs,
                     now: datetime) -> list[int]:
    """After a grade change: offer every live policy whose rule now fits; returns the policy ids matched.

    Evaluates in memory (one taxpayer); rows that already exist are left alone, so a taxpayer
    gets each policy at most once per channel however often its grade moves.
    """
    with session_factory() as session:
        row = session.execute(select(Taxpayer, Taxpayer.uscc, *PREFERENCE_COLUMNS)
                              .outerjoin(Preference, Preference.uscc == Taxpayer.uscc)
                              .where(Taxpayer.uscc == uscc)).first()
        if row is None:
            return []
        taxpayer = row[0]
        profile = taxpayer_profile(taxpayer, tags=SqlAlchemyInboxRepository(session).tags(uscc),
                                   today=local_date(now))
        matched_ids = []
        for policy in live_policies(session, now):
            if in_region_scope(taxpayer.region_code, policy.region_scope or []) and evaluate(parse_rule(policy.rule),
                                                                                          profile):
                write_deliveries(session, policy, [row], now=now, settings=settings)
                matched_ids.append(policy.id)
        if not _still_live(session, matched_ids, now):  # as in match_chunk
            session.rollback()
            return rematch_taxpayer(uscc, session_factory=session_factory, settings=settings, jobs=jobs, now=now)
        session.commit()
    if matched_ids:
        dispatch(session_factory, Delivery.uscc == uscc, now=now, settings=settings, jobs=jobs)
    return matched_ids


def rematch_import(import_id: int, *, session_factory: Any, settings: PushSettings, jobs: Jobs,
                   now: datetime) -> int:
    """After a grade import: fan every live policy out to the taxpayers that import created or changed."""
    with session_factory() as session:
        policy_ids = [p.id for p in live_policies(session, now)]
    return sum(plan_fanout(pid, scope=f"import:{import_id}", session_factory=session_factory, settings=settings,
                           jobs=jobs, now=now) for pid in policy_ids)
