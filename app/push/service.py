"""Use cases for tax-bureau staff: policies (CRUD, preview, publish, delivery counts), tags, calendar.

Each function takes plain values and its dependencies, ends its transaction explicitly and
returns plain data (never ORM objects outside their session).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from app.clock import Clock, local_date, local_midnight
from app.db import UnitOfWork
from app.errors import Conflict, InvalidInput, NotFound
from app.push.calendar import Reminder, due_reminders
from app.push.domain import PENDING, PolicyStatus, Status, TagsChanged
from app.push.models import Delivery, Policy, PushAudit, TaxpayerTag
from app.push.repository import SqlAlchemyInboxRepository, SqlAlchemyPolicyRepository
from app.push.rules import RuleError, parse_rule
from app.push.settings import Jobs
from app.push.sqlrules import compile_region_scope, compile_rule
from app.push.sweeper import PLAN_JOB
from app.taxpayers.models import Taxpayer

log = logging.getLogger(__name__)

#: Fields that may still change once a policy is published (the rule and audience may not).
EDITABLE_WHEN_PUBLISHED = {"title", "body", "priority", "valid_to"}


def check_rule(rule: Any) -> None:
    """Raise ``InvalidInput`` on ``rule`` listing each bad part by its JSON path."""
    try:
        parse_rule(rule)
    except RuleError as exc:
        raise InvalidInput(f"rule: {exc}", errors={"rule": [f"{path}: {reason}" for path, reason in exc.problems]}) \
            from exc


def _check_window(valid_from: datetime, valid_to: datetime | None) -> None:
    if valid_to is not None and valid_to <= valid_from:
        raise InvalidInput.field("valid_to", "must be later than valid_from")


def policy_dict(p: Policy) -> dict[str, Any]:
    return {c: getattr(p, c) for c in (
        "id", "title", "body", "category", "region_scope", "valid_from", "valid_to", "priority", "critical", "rule",
        "status", "source_key", "created_by", "created_at", "updated_at", "published_at", "published_by")}


def _get(session: Any, policy_id: int, *, for_update: bool = False) -> Policy:
    policy = SqlAlchemyPolicyRepository(session).get(policy_id, for_update=for_update)
    if policy is None:
        raise NotFound(f"no policy {policy_id}")
    return policy


def create_policy(data: dict[str, Any], *, created_by: str, uow: UnitOfWork, clock: Clock,
                  source_key: str | None = None) -> dict[str, Any]:
    """Save a draft policy. Raises ``InvalidInput`` for a bad rule or window."""
    check_rule(data["rule"])
    now = clock.now()
    valid_from = data.get("valid_from") or now
    _check_window(valid_from, data.get("valid_to"))
    with uow:
        policy = Policy(
            title=data["title"], body=data["body"], category=data["category"],
            region_scope=data.get("region_scope") or [], valid_from=valid_from, valid_to=data.get("valid_to"),
            priority=data.get("priority", 0), critical=data.get("critical", False), rule=data["rule"],
            status=PolicyStatus.DRAFT.value, source_key=source_key, created_by=created_by, created_at=now,
            updated_at=now,
        )
        uow.session.add(policy)
        if policy.critical:
            uow.session.flush()
            uow.session.add(PushAudit(at=now, actor=created_by, action="critical_created", policy_id=policy.id))
        uow.commit()
        return policy_dict(policy)


def list_policies(*, status: str | None, offset: int, limit: int, uow: UnitOfWork) -> tuple[list[dict], int]:
    with uow:
        rows, total = SqlAlchemyPolicyRepository(uow.session).page(status=status, offset=offset, limit=limit)
        return [policy_dict(p) for p in rows], total


def get_policy(policy_id: int, *, uow: UnitOfWork) -> dict[str, Any]:
    with uow:
        return policy_dict(_get(uow.session, policy_id))


def update_policy(policy_id: int, changes: dict[str, Any], *, by: str, uow: UnitOfWork, clock: Clock) -> dict[str, Any]:
    """Change a policy. A published one accepts only title, body, priority and valid_to (409 otherwise)."""
    if "rule" in changes:
        check_rule(changes["rule"])
    now = clock.now()
    with uow:
        policy = _get(uow.session, policy_id, for_update=True)
        if policy.status == PolicyStatus.WITHDRAWN.value:
            raise Conflict("a withdrawn policy cannot be changed")
        if policy.status == PolicyStatus.PUBLISHED.value and set(changes) - EDITABLE_WHEN_PUBLISHED:
            fields = ", ".join(sorted(set(changes) - EDITABLE_WHEN_PUBLISHED))
            raise Conflict(f"published policy: only {', '.join(sorted(EDITABLE_WHEN_PUBLISHED))} may change, "
                           f"not {fields}")
        _check_window(changes.get("valid_from", policy.valid_from), changes.get("valid_to", policy.valid_to))
        for name, value in changes.items():
            setattr(policy, name, value if name != "region_scope" else (value or []))
        policy.updated_at = now
        if changes.get("critical"):
            uow.session.add(PushAudit(at=now, actor=by, action="critical_set", policy_id=policy.id))
        uow.commit()
        return policy_dict(policy)


def delete_policy(policy_id: int, *, by: str, uow: UnitOfWork, clock: Clock) -> None:
    """Delete a draft; withdraw a published policy (delivered messages stay, pending ones are suppressed)."""
    now = clock.now()
    with uow:
        policy = _get(uow.session, policy_id, for_update=True)
        if policy.status == PolicyStatus.DRAFT.value:
            uow.session.execute(delete(PushAudit).where(PushAudit.policy_id == policy_id))
            uow.session.delete(policy)
        else:
            policy.status, policy.updated_at = PolicyStatus.WITHDRAWN.value, now
            uow.session.execute(update(Delivery).where(Delivery.policy_id == policy_id, Delivery.status.in_(PENDING))
                                .values(status=Status.SUPPRESSED.value, reason="withdrawn", due_at=None)
                                .execution_options(synchronize_session=False))
            uow.session.add(PushAudit(at=now, actor=by, action="withdrawn", policy_id=policy_id))
        uow.commit()


def preview_policy(policy_id: int, *, uow: UnitOfWork, clock: Clock, sample_size: int = 10) -> dict[str, Any]:
    """How many taxpayers the rule matches now, and a sample of them (the same SQL the fan-out runs)."""
    today = local_date(clock.now())
    with uow:
        policy = _get(uow.session, policy_id)
        where = (compile_rule(parse_rule(policy.rule), today=today), compile_region_scope(policy.region_scope or []))
        count, sample = SqlAlchemyPolicyRepository(uow.session).preview(where, sample_size=sample_size)
        return {"policy_id": policy_id, "matching": count, "as_of": today, "sample": sample}


def publish_policy(policy_id: int, *, by: str, uow: UnitOfWork, clock: Clock, jobs: Jobs) -> dict[str, Any]:
    """Publish and start the fan-out in the workers. Publishing again only re-runs the (idempotent) fan-out.

    Raises ``Conflict`` for a withdrawn policy or one outside its validity window.
    """
    now = clock.now()
    with uow:
        policy = _get(uow.session, policy_id, for_update=True)
        if policy.status == PolicyStatus.WITHDRAWN.value:
            raise Conflict("a withdrawn policy cannot be published")
        if policy.valid_from > now:
            raise Conflict("the policy is not valid yet: publish it on or after valid_from")
        if policy.valid_to is not None and policy.valid_to <= now:
            raise Conflict("the policy's validity has ended")
        if policy.status == PolicyStatus.DRAFT.value:
            policy.status, policy.published_at, policy.published_by = PolicyStatus.PUBLISHED.value, now, by
        policy.planned_at, policy.plan_enqueued_at = None, now
        if policy.critical:
            uow.session.add(PushAudit(at=now, actor=by, action="critical_published", policy_id=policy.id,
                                      details={"bypasses": ["opt_outs", "quiet_hours", "daily_cap"]}))
        uow.commit()
        result = policy_dict(policy)
    try:
        jobs.enqueue(PLAN_JOB, policy_id)
    except RedisError:  # the publish is recorded; the sweeper enqueues the planner once Redis is back
        log.error("could not enqueue the fan-out of policy %s; the sweeper will retry", policy_id, exc_info=True)
    return result


def publish_once(data: dict[str, Any], *, source_key: str, by: str, uow: UnitOfWork, clock: Clock,
                 jobs: Jobs) -> bool:
    """Create and publish a generated policy unless the one keyed ``source_key`` exists; True if this call published.

    Run any number of times, even concurrently, it publishes one policy per key (the key is unique).
    A run that died between creating and publishing left a draft nobody will publish by hand:
    the next run publishes that draft. A withdrawn one stays withdrawn.
    """
    with uow:
        existing = SqlAlchemyPolicyRepository(uow.session).by_source_key(source_key)
    if existing is None:
        try:
            policy_id = create_policy(data, created_by=by, uow=uow, clock=clock, source_key=source_key)["id"]
        except IntegrityError:  # a concurrent run created it first (and publishes it, or leaves it to the next run)
            return False
    elif existing[1] == PolicyStatus.DRAFT.value:
        policy_id = existing[0]
    else:
        return False
    publish_policy(policy_id, by=by, uow=uow, clock=clock, jobs=jobs)
    return True


def delivery_counts(policy_id: int, *, uow: UnitOfWork) -> dict[str, Any]:
    """Delivery rows of a policy counted by status and by channel × status."""
    with uow:
        _get(uow.session, policy_id)
        rows = SqlAlchemyPolicyRepository(uow.session).counts(policy_id)
    by_status: dict[str, int] = {}
    by_channel: dict[str, dict[str, int]] = {}
    for channel, status, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        by_channel.setdefault(channel, {})[status] = count
    return {"policy_id": policy_id, "total": sum(by_status.values()), "by_status": by_status,
            "by_channel": by_channel}


def set_tags(uscc: str, tags: list[str], *, uow: UnitOfWork) -> list[str]:
    """Replace a taxpayer's profile tags. Raises ``NotFound`` for an unknown USCC.

    A change publishes ``TagsChanged``, so the live policies whose rules test tags reach the
    taxpayer now (a worker re-matches it, as after a grade change); the same tags again change nothing.
    """
    wanted = sorted(set(tags))
    with uow:
        if uow.session.get(Taxpayer, uscc) is None:
            raise NotFound(f"no taxpayer with USCC {uscc}")
        if sorted(SqlAlchemyInboxRepository(uow.session).tags(uscc)) != wanted:
            uow.session.execute(delete(TaxpayerTag).where(TaxpayerTag.uscc == uscc))
            uow.session.add_all(TaxpayerTag(uscc=uscc, tag=t) for t in wanted)
            uow.collect(TagsChanged(uscc=uscc, tags=wanted))
            uow.commit()
    return wanted


def _end_of_local_day(day: date) -> datetime:
    return local_midnight(day + timedelta(days=1)).astimezone(timezone.utc)


def run_calendar(*, reminders: list[Reminder], holidays: frozenset[date], uow: UnitOfWork, clock: Clock,
                 jobs: Jobs) -> list[str]:
    """Create and publish the calendar reminders due today (once per period); returns their keys."""
    now = clock.now()
    published = []
    for due in due_reminders(reminders, local_date(now), holidays):
        r = due.reminder
        data = {"title": due.title, "body": due.body, "category": r.category, "rule": r.rule, "priority": r.priority,
                "critical": r.critical, "valid_from": now, "valid_to": _end_of_local_day(due.valid_to)}
        if publish_once(data, source_key=due.source_key, by="calendar", uow=uow, clock=clock, jobs=jobs):
            published.append(due.source_key)
    return published
