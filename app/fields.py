"""Marshmallow fields shared by every domain's schemas."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from marshmallow import ValidationError, fields, validate

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


class Whole(validate.Regexp):
    """A ``Regexp`` that must match the *whole* value (``re.fullmatch``).

    marshmallow's ``Regexp`` matches from the start only, and ``$`` also matches before a
    trailing newline, so ``"08:00\\n"`` passed and then overflowed its column. The pattern stays
    ``^…$`` so that the OpenAPI document carries a pattern every client's regex engine reads the
    same way; patterns spell digits ``[0-9]``, since ``\\d`` takes any Unicode digit (``３``, ``٣``).
    """

    @classmethod
    def of(cls, pattern: str, *, error: str) -> "Whole":
        """``Whole("^pattern$")``."""
        return cls(f"^{pattern}$", error=error)

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


class Contains(validate.Regexp):
    """A ``Regexp`` found anywhere in the value (``re.search``), as an OpenAPI ``pattern`` reads:
    ``Contains(r"\\S")`` is "not blank", and a name with a leading space is not blank."""

    def __call__(self, value: str) -> str:
        if self.regex.search(value) is None:
            raise ValidationError(self._format_error(value))
        return value
