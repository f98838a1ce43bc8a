"""Parsing and validating a scorecard body (JSON) into the ``Scorecard`` that ``evaluate`` uses.

Every error names the path of the bad field (``groups[1].indicators[0].bands``) so a rural
admin publishing a new version gets a 422 that says where to look.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from app.rural.domain import (
    FACT_ENUMS, FLAG_FACTS, MAX_MONEY, NUMERIC_FACTS, TAG_FACTS, RuralGrade, at_most_places, plain_number,
)
from app.rural.scorecard import Band, Group, Rule, Scorecard, ScorecardError, Veto

DEFAULT_SCORECARD = Path(__file__).with_name("scorecard_xian2018.json")

#: Points (maxima, points, caps, grade minima): ratings store scores as NUMERIC(5, 2), so no
#: scorecard needs more than three digits and two decimals; bigger exponents overflow the
#: decimal context when a household is scored (a 500 on every rating).
POINTS_LIMIT, POINTS_PLACES = Decimal(999), 2
#: Band thresholds compare facts: money up to ``MAX_MONEY`` and the debt ratio to 4 decimals.
THRESHOLD_LIMIT, THRESHOLD_PLACES = MAX_MONEY, 4
#: ``rural_ratings.veto`` is VARCHAR(32): a longer veto key could never be stored on a rating.
VETO_KEY_MAX = 32


def load_scorecard_file(path: str | Path | None = None) -> dict[str, Any]:
    """The JSON body of a scorecard file (the Xi'an 2018 default when ``path`` is None)."""
    return json.loads(Path(path or DEFAULT_SCORECARD).read_text(encoding="utf-8"))


def parse_scorecard(body: dict[str, Any]) -> Scorecard:
    """Validate a scorecard body; raises ``ScorecardError`` naming the first bad field."""
    if not isinstance(body, dict):
        raise ScorecardError("body", "必须是 JSON 对象")
    name = _text(body, "name", "name")
    if len(name) > 64:
        raise ScorecardError("name", "不超过 64 个字符")
    title = _text(body, "title", "title")
    max_score = _number(body.get("max_score", 100), "max_score")
    if not 0 < max_score <= 999:  # ratings store the score as NUMERIC(5, 2)
        raise ScorecardError("max_score", "应在 0 到 999 之间")
    groups = []
    for gi, raw in enumerate(_list(body, "groups", "groups", nonempty=True)):
        where = f"groups[{gi}]"
        rules = tuple(_rule(r, f"{where}.indicators[{ri}]")
                      for ri, r in enumerate(_list(raw, "indicators", f"{where}.indicators", nonempty=True)))
        group = Group(_text(raw, "key", f"{where}.key"), _text(raw, "title", f"{where}.title"),
                      _number(raw.get("max"), f"{where}.max"), rules)
        if sum((r.max for r in rules), Decimal(0)) < group.max:
            raise ScorecardError(f"{where}.max", "各指标满分之和小于分组满分，分组满分无法达到")
        groups.append(group)
    if sum((g.max for g in groups), Decimal(0)) != max_score:
        raise ScorecardError("groups", f"各分组满分之和应等于 max_score {plain_number(max_score)}")
    adjustments = tuple(_rule(r, f"adjustments[{i}]", adjustment=True)
                        for i, r in enumerate(_list(body, "adjustments", "adjustments")))
    vetoes = []
    for i, raw in enumerate(_list(body, "vetoes", "vetoes")):
        where = f"vetoes[{i}]"
        fact = _text(raw, "field", f"{where}.field")
        if fact not in FACT_ENUMS and fact not in FLAG_FACTS:
            raise ScorecardError(f"{where}.field", f"不能用于否决的字段 {fact}")
        if "equals" not in raw:
            raise ScorecardError(f"{where}.equals", "必填")
        key, reason = _text(raw, "key", f"{where}.key"), _text(raw, "reason", f"{where}.reason")
        _need(len(key) <= VETO_KEY_MAX, f"{where}.key", f"不超过 {VETO_KEY_MAX} 个字符")
        _need(isinstance(raw["equals"], (str, bool, int)), f"{where}.equals", "必须是文本、数字或布尔值")
        vetoes.append(Veto(key, fact, raw["equals"], reason))
    bands = []
    for i, raw in enumerate(_list(body, "bands", "bands", nonempty=True)):
        try:
            grade = RuralGrade(raw.get("grade"))
        except (ValueError, TypeError):
            raise ScorecardError(f"bands[{i}].grade", "应为 AAA、AA 或 A") from None
        bands.append((grade, _number(raw.get("min"), f"bands[{i}].min")))
    bands.sort(key=lambda b: b[1], reverse=True)
    if len({g for g, _ in bands}) != len(bands):
        raise ScorecardError("bands", "等级重复")
    if [g for g, _ in bands] != [g for g in RuralGrade if g in {b[0] for b in bands}]:
        raise ScorecardError("bands", "等级下限应按 AAA > AA > A 递减")
    keys = [r.key for g in groups for r in g.rules] + [r.key for r in adjustments]
    if len(set(keys)) != len(keys):
        raise ScorecardError("groups", "指标 key 重复")
    return Scorecard(name, title, max_score, tuple(groups), adjustments, tuple(vetoes), tuple(bands))


def _rule(raw: Any, where: str, *, adjustment: bool = False) -> Rule:
    if not isinstance(raw, dict):
        raise ScorecardError(where, "必须是 JSON 对象")
    key, title = _text(raw, "key", f"{where}.key"), _text(raw, "title", f"{where}.title")
    fact, kind = _text(raw, "field", f"{where}.field"), raw.get("kind", "bands")
    _need(isinstance(kind, str), f"{where}.kind", "必须是文本")
    common = {"key": key, "title": title, "field": fact, "unit": str(raw.get("unit", ""))}
    if kind == "bands":
        _need(fact in NUMERIC_FACTS, f"{where}.field", f"{fact} 不是数值字段")
        bands = []
        for i, b in enumerate(_list(raw, "bands", f"{where}.bands", nonempty=True)):
            low = _threshold(b["min"], f"{where}.bands[{i}].min") if b.get("min") is not None else None
            high = _threshold(b["max"], f"{where}.bands[{i}].max") if b.get("max") is not None else None
            label = str(b.get("label") or _band_label(low, high, common["unit"]))
            bands.append(Band(_number(b.get("points"), f"{where}.bands[{i}].points"), low, high, label))
        rule = Rule(kind=kind, max=max(b.points for b in bands), bands=tuple(bands), **common)
    elif kind == "choice":
        _need(fact in FACT_ENUMS, f"{where}.field", f"{fact} 不是选项字段")
        allowed = {e.value for e in FACT_ENUMS[fact]}
        options = []
        raw_options = raw.get("options")
        _need(isinstance(raw_options, dict), f"{where}.options", "必须是 JSON 对象")
        for value, spec in raw_options.items():
            _need(value in allowed, f"{where}.options", f"{value} 不是 {fact} 的取值")
            _need(isinstance(spec, dict), f"{where}.options.{value}", "必须是 JSON 对象")
            points = _number(spec.get("points"), f"{where}.options.{value}.points")
            options.append((value, points, str(spec.get("label", value))))
        _need(bool(options), f"{where}.options", "至少一个选项")
        rule = Rule(kind=kind, max=max(p for _, p, _ in options), options=tuple(options), **common)
    elif kind in {"flag", "count", "tag"}:
        if kind == "flag":
            _need(fact in FLAG_FACTS, f"{where}.field", f"{fact} 不是是/否字段")
        if kind == "count":
            _need(fact in NUMERIC_FACTS, f"{where}.field", f"{fact} 不是数值字段")
        tag = ""
        if kind == "tag":
            _need(fact in TAG_FACTS, f"{where}.field", f"{fact} 不是记录列表字段")
            tag = str(raw.get("tag", ""))
            _need(tag in {t.value for t in TAG_FACTS[fact]}, f"{where}.tag", f"未知记录 {tag}")
        points = _number(raw.get("points"), f"{where}.points")
        cap = _number(raw["cap"], f"{where}.cap") if raw.get("cap") is not None else None
        top = cap if kind == "count" and cap is not None else points
        rule = Rule(kind=kind, max=max(top, Decimal(0)), points=points, cap=cap, tag=tag, **common)
    else:
        raise ScorecardError(f"{where}.kind", "应为 bands、choice、flag、count 或 tag")
    if adjustment:
        return Rule(**{**rule.__dict__, "max": Decimal(0)})
    return rule


def _band_label(low: Decimal | None, high: Decimal | None, unit: str) -> str:
    if low is not None and high is not None:
        return f"{plain_number(low)}{unit}至不足 {plain_number(high)}{unit}"
    if low is not None:
        return f"{plain_number(low)}{unit}及以上"
    if high is not None:
        return f"不足 {plain_number(high)}{unit}"
    return "其他"


def _need(ok: bool, where: str, reason: str) -> None:
    if not ok:
        raise ScorecardError(where, reason)


def _text(raw: Any, key: str, where: str) -> str:
    value = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise ScorecardError(where, "必填文本")
    return value.strip()


def _number(value: Any, where: str, *, limit: Decimal = POINTS_LIMIT, places: int = POINTS_PLACES) -> Decimal:
    """A number of points (or, with ``limit`` and ``places``, a threshold) within its bounds.

    The bounds are checked with exact operations only (``copy_abs``, comparisons): arithmetic
    on ``1e999999999`` raises ``decimal.Overflow``.
    """
    if isinstance(value, bool) or value is None:
        raise ScorecardError(where, "必须是数字")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ScorecardError(where, "必须是数字") from None
    if not number.is_finite():
        raise ScorecardError(where, "必须是有限数字")
    if number.copy_abs() > limit:
        raise ScorecardError(where, f"应在 -{plain_number(limit)} 到 {plain_number(limit)} 之间")
    if not at_most_places(number, places):
        raise ScorecardError(where, f"最多 {places} 位小数")
    return number


def _threshold(value: Any, where: str) -> Decimal:
    """A band's bound on a fact (money, land, counts, the debt ratio)."""
    return _number(value, where, limit=THRESHOLD_LIMIT, places=THRESHOLD_PLACES)


def _list(raw: Any, key: str, where: str, *, nonempty: bool = False) -> list[dict[str, Any]]:
    """The list of JSON objects under ``key``; raises naming the list or the element that is not an object."""
    value = raw.get(key, []) if isinstance(raw, dict) else None
    if not isinstance(value, list) or (nonempty and not value):
        raise ScorecardError(where, "必须是非空列表" if nonempty else "必须是列表")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ScorecardError(f"{where}[{i}]", "必须是 JSON 对象")
    return value
