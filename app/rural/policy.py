"""The region's rural-credit policy as data (``policy.json``): notice days, limit terms,
the LPR + basis-point table, NPL rule, village / township / county thresholds, star levels
and the yearly cycle. ``load_policy`` validates the file once at start; the rest of the
module works on the parsed, immutable values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from app.rural.domain import PlaceLevel, RuralGrade

DEFAULT_POLICY = Path(__file__).with_name("policy.json")
OPS = (">=", ">", "<=", "<")


class PolicyError(ValueError):
    """The policy file is malformed; the service must not start with it."""


@dataclass(frozen=True)
class Threshold:
    key: str  # the figure it is checked against
    title: str
    op: str  # one of OPS
    value: Decimal


@dataclass(frozen=True)
class StarLevel:
    stars: int
    thresholds: tuple[Threshold, ...]  # on top of being a credit village


@dataclass(frozen=True)
class Deadline:
    month: int
    day: int
    years_after: int
    title: str

    def for_year(self, year: int) -> date:
        """The deadline for the rating cycle of ``year``."""
        return date(year + self.years_after, self.month, self.day)


@dataclass(frozen=True)
class LimitPolicy:
    base_by_grade: dict[RuralGrade, Decimal]
    asset_share: Decimal
    operating_income_share: Decimal
    cap: Decimal
    round_down_to: Decimal


@dataclass(frozen=True)
class RatePolicy:
    lpr: Decimal  # percent a year
    lpr_name: str
    lpr_as_of: date
    bp_by_stars: dict[int, Decimal]


@dataclass(frozen=True)
class RuralPolicy:
    notice_days: int
    rating_valid_years: int
    limits: LimitPolicy
    rates: RatePolicy
    npl_overdue_days: int
    thresholds: dict[PlaceLevel, tuple[Threshold, ...]]
    village_stars: tuple[StarLevel, ...]  # most stars first
    cycle: dict[PlaceLevel | str, Deadline]

    def deadlines(self, year: int) -> dict[str, dict[str, Any]]:
        """The cycle of ``year`` as ``{stage: {"due": date, "title": ...}}``."""
        return {str(getattr(k, "value", k)): {"due": d.for_year(year), "title": d.title} for k, d in self.cycle.items()}


def load_policy(path: str | Path | None = None) -> RuralPolicy:
    """Parse the policy file (the shipped default when ``path`` is None); raises ``PolicyError``."""
    raw = json.loads(Path(path or DEFAULT_POLICY).read_text(encoding="utf-8"))
    return parse_policy(raw)


def parse_policy(raw: dict[str, Any]) -> RuralPolicy:
    try:
        limits = raw["limits"]
        rates = raw["rates"]
        policy = RuralPolicy(
            notice_days=int(raw["notice_days"]),
            rating_valid_years=int(raw.get("rating_valid_years", 1)),
            limits=LimitPolicy(
                base_by_grade={RuralGrade(g): _dec(v) for g, v in limits["base_by_grade"].items()},
                asset_share=_dec(limits["asset_share"]),
                operating_income_share=_dec(limits["operating_income_share"]),
                cap=_dec(limits["cap"]),
                round_down_to=_dec(limits.get("round_down_to", 1)),
            ),
            rates=RatePolicy(
                lpr=_dec(rates["lpr"]), lpr_name=str(rates.get("lpr_name", "LPR")),
                lpr_as_of=date.fromisoformat(rates["lpr_as_of"]),
                bp_by_stars={int(k): _dec(v) for k, v in rates["bp_by_stars"].items()},
            ),
            npl_overdue_days=int(raw["npl_overdue_days"]),
            thresholds={level: _thresholds(raw[level.value]["thresholds"])
                        for level in (PlaceLevel.VILLAGE, PlaceLevel.TOWNSHIP, PlaceLevel.COUNTY)},
            village_stars=tuple(sorted(
                (StarLevel(int(s["stars"]), _thresholds(s.get("thresholds", []))) for s in raw["village"]["stars"]),
                key=lambda s: s.stars, reverse=True)),
            cycle={_stage(k): Deadline(int(v["month"]), int(v["day"]), int(v.get("years_after", 0)), str(v["title"]))
                   for k, v in raw["cycle"].items()},
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise PolicyError(f"rural policy is malformed: {exc!r}") from exc
    if policy.notice_days < 1:
        raise PolicyError("notice_days must be at least 1")
    if 0 not in policy.rates.bp_by_stars:
        raise PolicyError("rates.bp_by_stars needs an entry for 0 stars")
    for deadline in policy.cycle.values():
        deadline.for_year(2024)  # a leap year: rejects impossible month/day pairs
    return policy


def _stage(key: str) -> PlaceLevel | str:
    try:
        return PlaceLevel(key)
    except ValueError:
        return key


def _thresholds(items: list[dict[str, Any]]) -> tuple[Threshold, ...]:
    out = []
    for item in items:
        if item["op"] not in OPS:
            raise ValueError(f"unknown operator {item['op']!r}")
        out.append(Threshold(str(item["key"]), str(item.get("title", item["key"])), item["op"], _dec(item["value"])))
    return tuple(out)


def _dec(value: Any) -> Decimal:
    number = Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number
