"""Preference-push rules over plain values: categories, channels, the delivery lifecycle and
the per-taxpayer send decision (opt-outs, quiet hours, daily cap, critical bypass).

Nothing here touches Flask, SQLAlchemy or Redis; the clock's ``now`` is passed in.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from app.clock import LOCAL_TZ, local_date, local_midnight


class Category(str, enum.Enum):
    """What a policy is about; taxpayers opt out per category."""

    TAX_RELIEF = "tax_relief"  # 税费优惠
    FILING_REMINDER = "filing_reminder"  # 申报提醒
    LOAN_OFFER = "loan_offer"  # 银税互动贷款
    CREDIT_REPAIR = "credit_repair"  # 信用修复
    SERVICE_OFFER = "service_offer"  # 一对一辅导、绿色通道等纳税服务
    TRAINING = "training"  # 培训


class Channel(str, enum.Enum):
    INBOX = "inbox"  # the in-app inbox: the delivery row is the message
    WEBHOOK = "webhook"  # POSTed to the configured push gateway (mobile push / SMS)


class Status(str, enum.Enum):
    """A delivery's lifecycle.

    ``matched → queued → sent → delivered → read``; a ``matched`` row with a ``due_at`` waits
    for the end of quiet hours; ``held`` rows went over the daily cap and go out together as
    one digest; ``suppressed`` carries the reason, ``failed`` the error and the attempts.
    """

    MATCHED = "matched"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    HELD = "held"
    SUPPRESSED = "suppressed"
    FAILED = "failed"


#: Rows not yet handed over for good: the periodic tick looks only at these.
PENDING = (Status.MATCHED.value, Status.HELD.value, Status.QUEUED.value)
#: Rows that count against the daily cap.
COUNTED = (Status.QUEUED.value, Status.SENT.value, Status.DELIVERED.value, Status.READ.value)


class PolicyStatus(str, enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class QuietHours:
    """A local-time window (Asia/Shanghai) in which non-critical messages wait; may span midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> "QuietHours | None":
        """``"21:00-08:00"`` → QuietHours; ``""`` or ``"off"`` → None (no quiet hours). Raises ``ValueError``."""
        text = (text or "").strip()
        if text.lower() in ("", "off", "none"):
            return None
        start, _, end = text.partition("-")
        return cls(parse_hhmm(start), parse_hhmm(end))

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, now: datetime) -> datetime | None:
        """The UTC instant the window around ``now`` ends, or None when ``now`` is outside it."""
        local = now.astimezone(LOCAL_TZ)
        if not self.contains(local.time().replace(tzinfo=None)):
            return None
        end = datetime.combine(local.date(), self.end, tzinfo=LOCAL_TZ)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(timezone.utc)


#: A time of day as the API and the settings take it: two digits each, 00:00–23:59 (not "8:00", not "０８:00").
HHMM = r"([01][0-9]|2[0-3]):[0-5][0-9]"
_HHMM = re.compile(HHMM)


def parse_hhmm(text: str) -> time:
    """``"08:00"`` → time(8, 0); raises ``ValueError`` for anything else (the API's rule, ``HHMM``)."""
    match = _HHMM.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time as HH:MM (00:00–23:59)")
    return time(int(match[0][:2]), int(match[0][3:]))


@dataclass(frozen=True)
class Preferences:
    """One taxpayer's choices; defaults come from the settings."""

    opt_out_categories: frozenset[str] = frozenset()
    opt_out_channels: frozenset[str] = frozenset()
    quiet_hours: QuietHours | None = None
    daily_cap: int = 5


@dataclass(frozen=True)
class Decision:
    """What to do with one (policy, taxpayer, channel) right now.

    ``status`` is ``queued`` (hand it over now), ``matched`` (wait until ``due_at``: quiet
    hours), ``held`` (over the cap: goes out in the digest at ``due_at``) or ``suppressed``.
    ``bypassed`` names what a critical message overrode, for the audit.
    """

    status: Status
    reason: str | None = None
    due_at: datetime | None = None
    bypassed: tuple[str, ...] = field(default=())


def decide(*, category: str, critical: bool, channel: str, prefs: Preferences, now: datetime,
           sent_today: int) -> Decision:
    """The send decision for one message. Critical messages ignore opt-outs, quiet hours and the cap."""
    bypassed: list[str] = []
    if channel in prefs.opt_out_channels:
        if not critical:
            return Decision(Status.SUPPRESSED, "opted_out_channel")
        bypassed.append("opted_out_channel")
    if category in prefs.opt_out_categories:
        if not critical:
            return Decision(Status.SUPPRESSED, "opted_out_category")
        bypassed.append("opted_out_category")
    quiet_end = prefs.quiet_hours.ends_after(now) if prefs.quiet_hours else None
    if quiet_end is not None:
        if not critical:
            return Decision(Status.MATCHED, "quiet_hours", due_at=quiet_end)
        bypassed.append("quiet_hours")
    if sent_today >= prefs.daily_cap:
        if not critical:
            return Decision(Status.HELD, "daily_cap", due_at=next_digest_at(now, prefs))
        bypassed.append("daily_cap")
    return Decision(Status.QUEUED, "critical_bypass" if bypassed else None, bypassed=tuple(bypassed))


def next_digest_at(now: datetime, prefs: Preferences) -> datetime:
    """When held messages go out as one digest: the next local morning (end of quiet hours, else 08:00)."""
    morning = prefs.quiet_hours.end if prefs.quiet_hours else time(8, 0)
    tomorrow = local_date(now) + timedelta(days=1)
    return datetime.combine(tomorrow, morning, tzinfo=LOCAL_TZ).astimezone(timezone.utc)


def local_day_start(now: datetime) -> datetime:
    """UTC instant of the local (Asia/Shanghai) midnight that began ``now``'s day: the cap's day."""
    return local_midnight(local_date(now)).astimezone(timezone.utc)


def backoff_seconds(attempts: int, schedule: tuple[int, ...]) -> int:
    """Wait before retry number ``attempts`` (1-based); the last step repeats."""
    if not schedule:
        return 60
    return schedule[min(attempts, len(schedule)) - 1]


def is_permanent_http_failure(status: int) -> bool:
    """A gateway answer that retrying cannot fix (4xx except timeout/too-many-requests)."""
    return 400 <= status < 500 and status not in (408, 425, 429)


def is_live(*, status: str, valid_from: datetime, valid_to: datetime | None, now: datetime) -> bool:
    """A policy reaches taxpayers while it is published and inside its validity window."""
    return status == PolicyStatus.PUBLISHED.value and valid_from <= now and (valid_to is None or now < valid_to)


def lapsed(*, status: str, valid_to: datetime | None, now: datetime) -> str | None:
    """Why a policy's waiting messages may no longer go out (``withdrawn``, ``expired``); None while they may.

    Messages held for quiet hours or the daily cap are released only while their policy is
    still published and inside its window; otherwise they end ``suppressed`` with this reason.
    """
    if status != PolicyStatus.PUBLISHED.value:
        return "withdrawn"
    if valid_to is not None and valid_to <= now:
        return "expired"
    return None


@dataclass(frozen=True)
class TagsChanged:
    """Published after staff replaced a taxpayer's profile tags: the live policies are matched again."""

    uscc: str
    tags: list[str]
    type: str = field(default="TagsChanged", init=False)


def in_region_scope(region_code: str | None, scope: list[str]) -> bool:
    """An empty scope is everywhere; otherwise the region code must start with one of the prefixes."""
    if not scope:
        return True
    return region_code is not None and any(region_code.startswith(prefix) for prefix in scope)


def years_between(start: date | None, today: date) -> int | None:
    """Whole years from ``start`` to ``today`` (birthday arithmetic), None without a start."""
    if start is None:
        return None
    return today.year - start.year - ((today.month, today.day) < (start.month, start.day))
