"""The clock, injected wherever time matters so tests can move it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

#: Where people read times: every time shown to a user is in this zone.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Timezone-aware UTC wall time."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)
