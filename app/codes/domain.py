"""Color-code rules (DOMAIN.md §3, §6): grade → color, token claims, verification verdicts."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from app.taxpayers.domain import Grade, GradeStatus, State


class Color(str, enum.Enum):
    GOLD = "gold"
    SILVER = "silver"
    GREEN = "green"
    BLUE = "blue"
    RED = "red"
    GREY = "grey"  # not yet rated
    SLATE = "slate"  # not rated this period (suspended)


_GRADE_COLORS = {Grade.A: Color.GOLD, Grade.B: Color.SILVER, Grade.M: Color.GREEN, Grade.C: Color.BLUE, Grade.D: Color.RED}


def color_for(grade: Grade | None, state: State) -> Color:
    """The code's color: the state overlay first (blacklisted is always red), then the grade."""
    if state is State.BLACKLISTED:
        return Color.RED
    if state is State.SUSPENDED:
        return Color.SLATE
    if state is State.UNRATED or grade is None:
        return Color.GREY
    return _GRADE_COLORS[grade]


@dataclass(frozen=True)
class Privilege:
    """One thing a color unlocks, as published in the privileges catalogue."""

    key: str
    title: str
    description: str
    colors: frozenset[str]

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "title": self.title, "description": self.description}


class PrivilegeCatalogue:
    """What each color unlocks, loaded from JSON data (see ``privileges.json``).

    Regions change the catalogue by pointing ``SHUIMA_PRIVILEGES_FILE`` at their own file
    (e.g. adding ``"blue"`` to the loan entry while a relief policy admits grade C); the code
    that reads it does not change.
    """

    def __init__(self, privileges: list[Privilege]):
        self._privileges = privileges

    @classmethod
    def load(cls, path: str | None = None) -> "PrivilegeCatalogue":
        if path:
            raw = Path(path).read_text(encoding="utf-8")
        else:
            raw = resources.files("app.codes").joinpath("privileges.json").read_text(encoding="utf-8")
        return cls.from_data(json.loads(raw))

    @classmethod
    def from_data(cls, data: list[dict[str, Any]]) -> "PrivilegeCatalogue":
        known = {c.value for c in Color}
        privileges = []
        for entry in data:
            colors = frozenset(entry["colors"])
            if not colors <= known:
                raise ValueError(f"privilege {entry['key']!r} names unknown colors {sorted(colors - known)}")
            privileges.append(Privilege(entry["key"], entry["title"], entry["description"], colors))
        return cls(privileges)

    def for_color(self, color: Color) -> list[Privilege]:
        return [p for p in self._privileges if color.value in p.colors]


def code_claims(status: GradeStatus, *, subject: str, issuer: str, now: datetime, ttl: timedelta,
                jti: str) -> dict[str, Any]:
    """JWS claims of a code: no name or other personal data, only what a verifier needs.

    ``subject`` names the taxpayer without showing its USCC (``app.codes.subjects``)."""
    color = color_for(status.grade, status.state)
    return {
        "iss": issuer,
        "sub": subject,
        "grade": status.grade.value if status.grade else None,
        "color": color.value,
        "state": status.state.value,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": jti,
    }


class Verdict(str, enum.Enum):
    """Stable reasons a verification gives. Clients may switch on these strings."""

    OK = "ok"
    STALE = "stale"  # authentic, but the grade changed since issue: the answer shows today's
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    EXPIRED = "expired"
    MALFORMED = "malformed"
    UNKNOWN_TAXPAYER = "unknown_taxpayer"

    @property
    def valid(self) -> bool:
        return self in {Verdict.OK, Verdict.STALE}


def judge_freshness(claims: dict[str, Any], current: GradeStatus) -> Verdict:
    """OK when the token still states the current grade and state, STALE otherwise."""
    token_view = (claims.get("grade"), claims.get("state"))
    current_view = (current.grade.value if current.grade else None, current.state.value)
    return Verdict.OK if token_view == current_view else Verdict.STALE
