"""Marshmallow fields shared by every domain's schemas."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from marshmallow import ValidationError, fields

from app.clock import LOCAL_TZ


def local_iso(value: datetime) -> str:
    """``value`` as people read it: Asia/Shanghai, ISO 8601 (``2026-11-25T10:00:00+08:00``)."""
    return value.astimezone(LOCAL_TZ).isoformat()


class LocalDateTime(fields.AwareDateTime):
    """Aware datetimes at the edge: shown in Asia/Shanghai (``…T10:00:00+08:00``), input without an
    offset read as Asia/Shanghai, loaded as UTC (storage is always UTC)."""

    def __init__(self, **kwargs: Any):
        super().__init__(default_timezone=LOCAL_TZ, **kwargs)

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else local_iso(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        try:
            return super()._deserialize(value, attr, data, **kwargs).astimezone(timezone.utc)
        except OverflowError:  # e.g. 0001-01-01T00:00 in Asia/Shanghai has no UTC equivalent
            raise ValidationError("is outside the supported range of dates") from None
