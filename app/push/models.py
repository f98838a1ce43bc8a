"""Push tables: policies, one delivery row per (policy, taxpayer, channel), fan-out chunks,
preferences, taxpayer tags and the audit of critical sends.

The ``push_deliveries`` row is the record: it is written before anything is sent, and its
unique constraint is what makes a second publish or a re-run job harmless.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, utcnow

#: 64-bit ids on PostgreSQL; SQLite needs INTEGER for its rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Policy(Base):
    """A preferential policy or service reminder, with its eligibility rule stored as data."""

    __tablename__ = "push_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    region_scope: Mapped[list] = mapped_column(JSON, default=list)
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UtcDateTime())
    priority: Mapped[int] = mapped_column(default=0)
    critical: Mapped[bool] = mapped_column(default=False)
    rule: Mapped[dict | bool] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    #: Set for generated policies (calendar reminders) so generating twice finds the first.
    source_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    published_by: Mapped[str | None] = mapped_column(String(64))
    #: When the fan-out planner was last enqueued / finished planning (the sweeper's view).
    plan_enqueued_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    planned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Delivery(Base):
    """One message for one taxpayer on one channel; see ``domain.Status`` for the lifecycle."""

    __tablename__ = "push_deliveries"
    __table_args__ = (
        UniqueConstraint("policy_id", "uscc", "channel", name="uq_push_deliveries_policy_taxpayer_channel"),
        Index("ix_push_deliveries_uscc_channel_queued", "uscc", "channel", "queued_at"),
        Index("ix_push_deliveries_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("push_policies.id"))
    uscc: Mapped[str] = mapped_column(ForeignKey("taxpayers.uscc"))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    bypassed: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    #: Rows delivered together as one digest share the id of the digest's first row.
    digest_id: Mapped[int | None] = mapped_column(BigId)
    matched_at: Mapped[datetime] = mapped_column(UtcDateTime())
    #: When the row next needs attention: end of quiet hours, digest time, retry time, or the
    #: lease of a queued row (past it, the row is re-dispatched: this is the sweeper).
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class FanoutChunk(Base):
    """A slice of the taxpayer key space (``lo`` ≤ uscc ≤ ``hi``) one job matches for one policy.

    ``scope`` is ``all`` for a publish, ``import:<id>`` for the taxpayers of one grade import.
    A chunk still ``pending`` long after it was enqueued is re-enqueued by the sweeper.
    """

    __tablename__ = "push_chunks"
    __table_args__ = (UniqueConstraint("policy_id", "scope", "lo", name="uq_push_chunks_policy_scope_lo"),
                      Index("ix_push_chunks_status_enqueued", "status", "enqueued_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("push_policies.id"))
    scope: Mapped[str] = mapped_column(String(32))
    lo: Mapped[str] = mapped_column(String(18))
    hi: Mapped[str] = mapped_column(String(18))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    matched: Mapped[int | None]
    enqueued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Preference(Base):
    """A taxpayer's push preferences; no row means the defaults from the settings."""

    __tablename__ = "push_preferences"

    uscc: Mapped[str] = mapped_column(ForeignKey("taxpayers.uscc"), primary_key=True)
    opt_out_categories: Mapped[list] = mapped_column(JSON, default=list)
    opt_out_channels: Mapped[list] = mapped_column(JSON, default=list)
    #: ``"21:00-08:00"``; empty string = no quiet hours; NULL = the default.
    quiet_hours: Mapped[str | None] = mapped_column(String(11))
    daily_cap: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class TaxpayerTag(Base):
    """Free tags on a taxpayer's profile (``export``, ``high_tech``…) that rules can test."""

    __tablename__ = "taxpayer_tags"

    uscc: Mapped[str] = mapped_column(ForeignKey("taxpayers.uscc"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(32), primary_key=True)


class PushAudit(Base):
    """The audit trail: who created, flagged or published a critical policy, who withdrew a policy.

    What a critical message bypassed for one taxpayer is recorded on its delivery row
    (``Delivery.bypassed``), next to the reason ``critical_bypass``.
    """

    __tablename__ = "push_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("push_policies.id"), index=True)
    uscc: Mapped[str | None] = mapped_column(String(18))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
