"""Queries over policies, the inbox and preferences (the bulk fan-out statements live in
``fanout.py`` / ``delivery.py`` next to the steps they implement)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.db import page
from app.push.domain import Channel, Status
from app.push.models import Delivery, Policy, Preference, TaxpayerTag
from app.taxpayers.models import GradeRecord, Taxpayer

#: Inbox rows a taxpayer can see.
VISIBLE = (Status.DELIVERED.value, Status.READ.value)


class SqlAlchemyPolicyRepository:
    def __init__(self, session: Session):
        self.session = session

    def get(self, policy_id: int, *, for_update: bool = False) -> Policy | None:
        stmt = select(Policy).where(Policy.id == policy_id)
        return self.session.scalars(stmt.with_for_update() if for_update else stmt).first()

    def by_source_key(self, source_key: str) -> tuple[int, str] | None:
        """The (id, status) of the generated policy keyed ``source_key``, if there is one."""
        row = self.session.execute(select(Policy.id, Policy.status).where(Policy.source_key == source_key)).first()
        return None if row is None else (row.id, row.status)

    def page(self, *, status: str | None, offset: int, limit: int) -> tuple[list[Policy], int]:
        stmt = select(Policy)
        if status:
            stmt = stmt.where(Policy.status == status)
        return page(self.session, stmt.order_by(Policy.id.desc()), offset, limit)

    def preview(self, where: Iterable[ColumnElement[bool]], *, sample_size: int) -> tuple[int, list[dict[str, Any]]]:
        """How many taxpayers satisfy ``where``, and the first few of them by USCC."""
        where = tuple(where)
        count = self.session.scalar(select(func.count()).select_from(Taxpayer).where(*where)) or 0
        sample = self.session.execute(
            select(Taxpayer.uscc, Taxpayer.name, Taxpayer.grade, Taxpayer.state, Taxpayer.region_code,
                   Taxpayer.industry_code).where(*where).order_by(Taxpayer.uscc).limit(sample_size))
        return count, [dict(row._mapping) for row in sample]

    def counts(self, policy_id: int) -> list[tuple[str, str, int]]:
        """(channel, status, rows) for one policy."""
        stmt = (select(Delivery.channel, Delivery.status, func.count()).where(Delivery.policy_id == policy_id)
                .group_by(Delivery.channel, Delivery.status))
        return [(channel, status, count) for channel, status, count in self.session.execute(stmt)]


class SqlAlchemyInboxRepository:
    def __init__(self, session: Session):
        self.session = session

    def page(self, uscc: str, *, unread_only: bool, offset: int, limit: int) -> tuple[list[tuple[Delivery, Policy]],
                                                                                      int, int]:
        """(rows newest first, total, unread) of one taxpayer's inbox."""
        mine = (Delivery.uscc == uscc, Delivery.channel == Channel.INBOX.value)
        statuses = (Status.DELIVERED.value,) if unread_only else VISIBLE
        total = self.session.scalar(select(func.count()).select_from(Delivery)
                                    .where(*mine, Delivery.status.in_(statuses))) or 0
        unread = self.session.scalar(select(func.count()).select_from(Delivery)
                                     .where(*mine, Delivery.status == Status.DELIVERED.value)) or 0
        rows = self.session.execute(
            select(Delivery, Policy).join(Policy, Policy.id == Delivery.policy_id)
            .where(*mine, Delivery.status.in_(statuses))
            .order_by(Delivery.delivered_at.desc(), Delivery.id.desc()).offset(offset).limit(limit)).all()
        return [(d, p) for d, p in rows], total, unread

    def message(self, uscc: str, delivery_id: int) -> tuple[Delivery, Policy] | None:
        """One visible inbox message, only if it is ``uscc``'s."""
        row = self.session.execute(
            select(Delivery, Policy).join(Policy, Policy.id == Delivery.policy_id)
            .where(Delivery.id == delivery_id, Delivery.uscc == uscc, Delivery.channel == Channel.INBOX.value,
                   Delivery.status.in_(VISIBLE))).first()
        return (row[0], row[1]) if row else None

    def grade_at(self, uscc: str, moment: datetime) -> tuple[str | None, str] | None:
        """(grade, state) of the latest grade record effective at ``moment``."""
        row = self.session.execute(
            select(GradeRecord.grade, GradeRecord.state)
            .where(GradeRecord.uscc == uscc, GradeRecord.effective_at <= moment)
            .order_by(GradeRecord.effective_at.desc(), GradeRecord.id.desc()).limit(1)).first()
        return (row.grade, row.state) if row else None

    def taxpayer(self, uscc: str) -> Taxpayer | None:
        return self.session.get(Taxpayer, uscc)

    def tags(self, uscc: str) -> list[str]:
        return list(self.session.scalars(select(TaxpayerTag.tag).where(TaxpayerTag.uscc == uscc)))

    def preference(self, uscc: str) -> Preference | None:
        return self.session.get(Preference, uscc)
