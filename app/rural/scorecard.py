"""The household scorecard as data: evaluate facts against a versioned scorecard
(``scorecard_parse.py`` turns the JSON body into the ``Scorecard`` used here).

A scorecard has *groups* of *indicators* (each scored from a band table, a list of options
or a yes/no flag, capped at its group's maximum), *adjustments* (public-record bonuses and
deductions), *vetoes* (facts that mean "not rated" whatever the score) and grade *bands*.
``evaluate`` returns every indicator's points and a reason a farmer can read. Stored
ratings keep only ``(key, value, points)`` per item; the reason is rebuilt from the same
immutable scorecard version by ``explain``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from app.rural.domain import HouseholdFacts, RuralGrade, plain_number


class ScorecardError(ValueError):
    """A scorecard body that cannot be used; ``field`` is a path such as ``groups[0].max``."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Band:
    points: Decimal
    low: Decimal | None  # inclusive
    high: Decimal | None  # exclusive
    label: str

    def holds(self, value: Decimal) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value < self.high)


@dataclass(frozen=True)
class Rule:
    """One indicator or adjustment: how ``field`` turns into points."""

    key: str
    title: str
    field: str
    kind: str  # bands | choice | flag | count | tag
    max: Decimal  # most points it can give (0 for pure deductions)
    unit: str = ""
    bands: tuple[Band, ...] = ()
    options: tuple[tuple[str, Decimal, str], ...] = ()  # (value, points, label)
    points: Decimal = Decimal(0)  # flag / tag: points when set; count: points each
    cap: Decimal | None = None  # count: most points in total (sign follows points)
    tag: str = ""

    def score(self, value: Any) -> tuple[Decimal, str]:
        """(points, why) for ``value`` of this rule's field."""
        if self.kind == "bands":
            number = Decimal(value)
            for band in self.bands:
                if band.holds(number):
                    return band.points, band.label
            return Decimal(0), "不在任何档位"
        if self.kind == "choice":
            for option, points, label in self.options:
                if option == getattr(value, "value", value):
                    return points, label
            return Decimal(0), "未列出的选项"
        if self.kind == "flag":
            return (self.points, "是") if value else (Decimal(0), "否")
        if self.kind == "count":
            total = self.points * int(value)
            if self.cap is not None and abs(total) > abs(self.cap):
                return self.cap, f"{value} 项，封顶 {plain_number(self.cap)} 分"
            return total, f"{value} 项，每项 {plain_number(self.points)} 分"
        if self.kind == "tag":
            return (self.points, "有") if self.present(value) else (Decimal(0), "无")
        raise AssertionError(self.kind)

    def present(self, value: Any) -> bool:
        """Tag rules: whether the tag is among ``value`` (a stored rating keeps just this bool)."""
        if isinstance(value, bool):
            return value
        return any(getattr(v, "value", v) == self.tag for v in value)


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    max: Decimal
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Veto:
    key: str
    field: str
    equals: Any
    reason: str


@dataclass(frozen=True)
class Scorecard:
    name: str
    title: str
    max_score: Decimal
    groups: tuple[Group, ...]
    adjustments: tuple[Rule, ...]
    vetoes: tuple[Veto, ...]
    bands: tuple[tuple[RuralGrade, Decimal], ...]  # highest first

    def grade_for(self, score: Decimal) -> RuralGrade | None:
        """The band ``score`` falls in, or None below the lowest band."""
        for grade, minimum in self.bands:
            if score >= minimum:
                return grade
        return None

    def rules(self) -> dict[str, tuple[str, Rule]]:
        """Every rule by key, with the key of its group (``adjustments`` for those)."""
        found = {rule.key: (group.key, rule) for group in self.groups for rule in group.rules}
        found.update({rule.key: ("adjustments", rule) for rule in self.adjustments})
        return found


@dataclass(frozen=True)
class Item:
    """One scored line of a rating."""

    key: str
    group: str
    title: str
    value: Any
    points: Decimal
    max: Decimal
    reason: str


@dataclass(frozen=True)
class Evaluation:
    score: Decimal
    grade: RuralGrade | None
    veto: str | None  # the key of the veto that applied
    veto_reason: str | None
    items: tuple[Item, ...]
    subtotals: dict[str, Decimal]

    def compact_items(self) -> list[list[Any]]:
        """What a rating stores: ``[key, value, points]`` per item (values JSON-ready)."""
        return [[i.key, _plain(i.value), str(i.points)] for i in self.items]


def evaluate(card: Scorecard, facts: HouseholdFacts, *, reasons: bool = True) -> Evaluation:
    """Score ``facts`` on ``card``: every indicator, the adjustments, the vetoes, the grade.

    Each group is capped at its maximum; the total is held within 0..max_score. A veto
    leaves the score visible but the household ungraded. ``reasons=False`` skips writing the
    readable reasons (bulk rating stores ``compact_items`` and rebuilds them with ``explain``).
    """
    items: list[Item] = []
    subtotals: dict[str, Decimal] = {}
    total = Decimal(0)
    for group in card.groups:
        points_sum = Decimal(0)
        for rule in group.rules:
            item = _item(group.key, rule, facts.value(rule.field), reasons)
            items.append(item)
            points_sum += item.points
        subtotals[group.key] = min(points_sum, group.max)
        total += subtotals[group.key]
    adjust = Decimal(0)
    for rule in card.adjustments:
        item = _item("adjustments", rule, facts.value(rule.field), reasons)
        items.append(item)
        adjust += item.points
    subtotals["adjustments"] = adjust
    score = max(Decimal(0), min(card.max_score, total + adjust))
    veto = next((v for v in card.vetoes if _same(facts.value(v.field), v.equals)), None)
    return Evaluation(
        score=score, grade=None if veto else card.grade_for(score), veto=veto.key if veto else None,
        veto_reason=veto.reason if veto else None, items=tuple(items), subtotals=subtotals,
    )


def explain(card: Scorecard, compact: list[list[Any]]) -> list[Item]:
    """Rebuild the readable items of a stored rating from its scorecard version."""
    rules = card.rules()
    items = []
    for key, value, points in compact:
        group, rule = rules[key]
        _points, why = rule.score(_revive(rule, value))
        points = Decimal(points)
        items.append(Item(key, group, rule.title, value, points, rule.max, _reason(rule, value, points, why)))
    return items


def _item(group: str, rule: Rule, value: Any, reasons: bool = True) -> Item:
    if rule.kind == "tag":
        value = rule.present(value)
    points, why = rule.score(value)
    reason = _reason(rule, value, points, why) if reasons else ""
    return Item(rule.key, group, rule.title, value, points, rule.max, reason)


def _reason(rule: Rule, value: Any, points: Decimal, why: str) -> str:
    sign = "+" if points > 0 and rule.max == 0 else ""
    if rule.kind == "bands":
        shown = _plain(value)
        return f"{rule.title}：{shown}{(' ' + rule.unit) if rule.unit else ''}（{why}档），{sign}{plain_number(points)} 分"
    return f"{rule.title}：{why}，{sign}{plain_number(points)} 分"


def _revive(rule: Rule, value: Any) -> Any:
    if rule.kind == "bands":
        return Decimal(str(value))
    return value


def _plain(value: Any) -> Any:
    """A JSON-ready form of a fact value (enum → its value, Decimal → str)."""
    if isinstance(value, Enum):
        return value._value_
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(getattr(v, "value", v) for v in value)
    return value


def _same(actual: Any, expected: Any) -> bool:
    return getattr(actual, "value", actual) == expected
