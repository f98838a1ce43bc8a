"""Use cases for the taxpayer: the in-app inbox (with why each message came) and preferences.

Every function takes the caller's USCC: a taxpayer only ever sees its own rows, and another
taxpayer's message id answers 404 exactly like a missing one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update

from app.clock import Clock, local_date
from app.db import UnitOfWork
from app.errors import InvalidInput, NotFound
from app.push.delivery import preferences_from
from app.push.domain import Status, in_region_scope
from app.push.evaluate import describe, explain, taxpayer_profile
from app.push.models import Delivery, Policy, Preference
from app.push.repository import SqlAlchemyInboxRepository
from app.push.rules import parse_rule
from app.push.settings import PushSettings


def _item(d: Delivery, p: Policy) -> dict[str, Any]:
    return {"id": d.id, "policy_id": p.id, "title": p.title, "body": p.body, "category": p.category,
            "priority": p.priority, "critical": p.critical, "read": d.status == Status.READ.value,
            "digest_id": d.digest_id, "delivered_at": d.delivered_at, "read_at": d.read_at}


def list_inbox(uscc: str, *, page: int, page_size: int, unread_only: bool, uow: UnitOfWork) -> dict[str, Any]:
    """One page of the caller's inbox, newest first, with the unread count."""
    with uow:
        rows, total, unread = SqlAlchemyInboxRepository(uow.session).page(
            uscc, unread_only=unread_only, offset=(page - 1) * page_size, limit=page_size)
        return {"items": [_item(d, p) for d, p in rows], "unread": unread, "total": total, "page": page,
                "page_size": page_size}


def _mine(repo: SqlAlchemyInboxRepository, uscc: str, delivery_id: int) -> tuple[Delivery, Policy]:
    found = repo.message(uscc, delivery_id)
    if found is None:
        raise NotFound(f"no message {delivery_id} in your inbox")
    return found


def profile_at(repo: SqlAlchemyInboxRepository, uscc: str, moment: datetime) -> dict[str, Any]:
    """The taxpayer's profile as it stood at ``moment``: grade and state from the grade history."""
    taxpayer = repo.taxpayer(uscc)
    assert taxpayer is not None  # deliveries reference existing taxpayers
    return taxpayer_profile(taxpayer, tags=repo.tags(uscc), today=local_date(moment),
                            graded=repo.grade_at(uscc, moment))


def inbox_item(uscc: str, delivery_id: int, *, uow: UnitOfWork) -> dict[str, Any]:
    """One message and why it came: the rule's clauses the caller satisfied when it was matched."""
    with uow:
        repo = SqlAlchemyInboxRepository(uow.session)
        d, p = _mine(repo, uscc, delivery_id)
        profile = profile_at(repo, uscc, d.matched_at)
        tree = parse_rule(p.rule)
        clauses = explain(tree, profile)
        if not clauses:  # the profile has moved on in a way history cannot show (e.g. region)
            clauses = [{"path": "rule", "clause": describe(tree)}]
        if p.region_scope and in_region_scope(profile["region_code"], p.region_scope):
            clauses.append({"path": "region_scope", "clause": f"所在地区属于 {'、'.join(p.region_scope)}"})
        return {**_item(d, p), "matched_at": d.matched_at, "explanation": clauses}


def mark_read(uscc: str, delivery_id: int, *, uow: UnitOfWork, clock: Clock) -> dict[str, Any]:
    """Mark a message read (again is harmless)."""
    with uow:
        d, p = _mine(SqlAlchemyInboxRepository(uow.session), uscc, delivery_id)
        if d.status == Status.DELIVERED.value:
            uow.session.execute(update(Delivery).where(Delivery.id == d.id, Delivery.status == Status.DELIVERED.value)
                                .values(status=Status.READ.value, read_at=clock.now()))
            uow.commit()
            uow.session.refresh(d)
        return _item(d, p)


def _preferences_dict(pref: Preference | None, settings: PushSettings) -> dict[str, Any]:
    """Stored preferences as the API shows them, with the settings' defaults filled in."""
    prefs = preferences_from(pref, settings)
    quiet = prefs.quiet_hours
    return {
        "opt_out_categories": sorted(prefs.opt_out_categories),
        "opt_out_channels": sorted(prefs.opt_out_channels),
        "quiet_hours": {"start": f"{quiet.start:%H:%M}", "end": f"{quiet.end:%H:%M}"} if quiet else None,
        "daily_cap": prefs.daily_cap,
    }


def get_preferences(uscc: str, *, uow: UnitOfWork, settings: PushSettings) -> dict[str, Any]:
    """The caller's preferences, defaults filled in."""
    with uow:
        return _preferences_dict(SqlAlchemyInboxRepository(uow.session).preference(uscc), settings)


def put_preferences(uscc: str, data: dict[str, Any], *, uow: UnitOfWork, clock: Clock,
                    settings: PushSettings) -> dict[str, Any]:
    """Replace the caller's preferences (``quiet_hours: null`` turns quiet hours off)."""
    quiet = data["quiet_hours"]
    if quiet is not None and quiet["start"] == quiet["end"]:
        raise InvalidInput.field("quiet_hours", "start and end must differ (send null to turn quiet hours off)")
    with uow:
        repo = SqlAlchemyInboxRepository(uow.session)
        if repo.taxpayer(uscc) is None:
            raise NotFound(f"no taxpayer with USCC {uscc}")
        pref = repo.preference(uscc) or Preference(uscc=uscc)
        pref.opt_out_categories = sorted(set(data["opt_out_categories"]))
        pref.opt_out_channels = sorted(set(data["opt_out_channels"]))
        pref.quiet_hours = f"{quiet['start']}-{quiet['end']}" if quiet else ""
        pref.daily_cap = data["daily_cap"]
        pref.updated_at = clock.now()
        uow.session.add(pref)
        uow.commit()
        return _preferences_dict(pref, settings)
