"""Rules in memory: evaluate a parsed rule on a taxpayer profile and explain the verdict.

The profile is a plain dict built by ``profile_of``; the semantics (two-valued, nulls compare
false, ``!=`` null-safe) are the ones ``app.push.rules`` documents and ``app.push.sqlrules``
reproduces in SQL.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from app.codes.domain import color_for
from app.push.domain import years_between
from app.push.rules import OP_TEXT, VARIABLES, And, Compare, Const, HasTag, In, Literal, Node, Not, Or
from app.taxpayers.domain import Grade, State


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return left is None if right is None else left is not None and left == right
    if op == "!=":
        return not _compare("==", left, right)
    if left is None or right is None:
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def evaluate(node: Node, profile: dict[str, Any]) -> bool:
    """The rule's verdict on one profile (see ``profile_of`` for the keys)."""
    if isinstance(node, Const):
        return node.value
    if isinstance(node, And):
        return all(evaluate(c, profile) for c in node.children)
    if isinstance(node, Or):
        return any(evaluate(c, profile) for c in node.children)
    if isinstance(node, Not):
        return not evaluate(node.child, profile)
    if isinstance(node, Compare):
        return _compare(node.op, profile.get(node.var), node.value)
    if isinstance(node, In):
        value = profile.get(node.var)
        return value is not None and value in node.values
    return node.tag in (profile.get("tags") or ())


# --- explanation ---------------------------------------------------------------------------------

def _show(value: Literal) -> str:
    if value is None:
        return "空"
    return value.isoformat() if isinstance(value, date) else str(value)


def describe(node: Node, *, negated: bool = False) -> str:
    """One clause in plain Chinese, e.g. ``税码颜色 为 red``."""
    if isinstance(node, Compare):
        op = FLIP_NEGATION[node.op] if negated else node.op
        return f"{VARIABLES[node.var].label} {OP_TEXT[op]} {_show(node.value)}"
    if isinstance(node, In):
        return f"{VARIABLES[node.var].label} {'不属于' if negated else '属于'} {'、'.join(_show(v) for v in node.values)}"
    if isinstance(node, HasTag):
        return f"{'不带有' if negated else '带有'}标签 {node.tag}"
    if isinstance(node, Const):
        return "适用于所有纳税人" if node.value != negated else "不适用于任何纳税人"
    return ("并非（" if negated else "（") + "，".join(describe(c) for c in _children(node)) + "）"


FLIP_NEGATION = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, (And, Or)):
        return node.children
    if isinstance(node, Not):
        return (node.child,)
    return ()


def explain(node: Node, profile: dict[str, Any]) -> list[dict[str, str]]:
    """The clauses the profile satisfied that make the rule true: ``[{"path", "clause"}]``.

    For ``and`` every clause, for ``or`` the true alternatives, for ``!`` the negated clause.
    Empty when the rule is false for this profile.
    """
    if not evaluate(node, profile):
        return []
    out: list[dict[str, str]] = []
    _explain(node, profile, out, negated=False)
    return out


def _explain(node: Node, profile: dict[str, Any], out: list[dict[str, str]], *, negated: bool) -> None:
    if isinstance(node, And) and not negated or isinstance(node, Or) and negated:
        for child in node.children:  # all of them hold (or, negated, all of them fail)
            _explain(child, profile, out, negated=negated)
    elif isinstance(node, Or) and not negated or isinstance(node, And) and negated:
        for child in node.children:
            if evaluate(child, profile) != negated:
                _explain(child, profile, out, negated=negated)
    elif isinstance(node, Not):
        _explain(node.child, profile, out, negated=not negated)
    else:
        out.append({"path": node.path, "clause": describe(node, negated=negated)})


# --- profiles ---------------------------------------------------------------------------------------

def profile_of(*, grade: str | None, state: str, industry_code: str | None, region_code: str | None,
               size_class: str | None, registered_on: date | None, tags: list[str] | tuple[str, ...] = (),
               today: date) -> dict[str, Any]:
    """The values a rule sees for one taxpayer on ``today`` (color and age are derived)."""
    return {
        "grade": grade,
        "color": color_for(Grade(grade) if grade else None, State(state)).value,
        "state": state,
        "size_class": size_class,
        "industry_code": industry_code,
        "region_code": region_code,
        "registered_on": registered_on,
        "years_registered": years_between(registered_on, today),
        "tags": sorted(tags),
    }


def taxpayer_profile(taxpayer: Any, *, tags: list[str] | tuple[str, ...], today: date,
                     graded: tuple[str | None, str] | None = None) -> dict[str, Any]:
    """``profile_of`` for a taxpayer row; ``graded`` is a (grade, state) that replaces the current
    one (the grade history at some moment), None for the taxpayer's current grade and state."""
    grade, state = graded or (taxpayer.grade, taxpayer.state)
    return profile_of(grade=grade, state=state, industry_code=taxpayer.industry_code,
                      region_code=taxpayer.region_code, size_class=taxpayer.size_class,
                      registered_on=taxpayer.registered_on, tags=tags, today=today)
