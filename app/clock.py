"""The clock, injected wherever time matters so tests can move it."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

#: Where people read times: every time shown to a user is in this zone.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_date(moment: datetime) -> date:
    """The calendar date in Asia/Shanghai of an aware datetime."""
    return moment.astimezone(LOCAL_TZ).date()


def local_midnight(day: date) -> datetime:
    """00:00 Asia/Shanghai of ``day``, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Timezone-aware UTC wall time."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)
