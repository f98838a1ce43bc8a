"""Compile a parsed rule (``app.push.rules``) to a SQL predicate over ``taxpayers``.

Every predicate is two-valued (never SQL NULL), so ``NOT`` means what the in-memory
evaluator's ``!`` means. ``color`` becomes the CASE expression of ``codes.domain.color_for``;
``years_registered`` comparisons become date comparisons on ``registered_on`` (index-friendly
and the same on SQLite and PostgreSQL); tags become an ``EXISTS`` on ``taxpayer_tags``.
"""

from __future__ import annotations

import operator
from datetime import date

from sqlalchemy import and_, case, exists, false, literal, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from app.codes.domain import color_for
from app.push.models import TaxpayerTag
from app.push.rules import And, Compare, Const, HasTag, In, Node, Not, Or
from app.taxpayers.domain import Grade, State
from app.taxpayers.models import Taxpayer

#: A rated taxpayer's color by grade, taken from ``color_for`` so the two cannot drift apart.
_GRADE_COLORS = {grade.value: color_for(grade, State.NORMAL).value for grade in Grade}


def color_expression() -> ColumnElement[str]:
    """SQL twin of ``color_for``: the state overlay first, then the grade."""
    return case(
        (Taxpayer.state == "blacklisted", literal("red")),
        (Taxpayer.state == "suspended", literal("slate")),
        (or_(Taxpayer.state == "unrated", Taxpayer.grade.is_(None)), literal("grey")),
        *((Taxpayer.grade == grade, literal(color)) for grade, color in _GRADE_COLORS.items()),
        else_=literal("grey"),
    )


def _column(var: str) -> ColumnElement:
    if var == "color":
        return color_expression()
    return {
        "grade": Taxpayer.grade, "state": Taxpayer.state, "size_class": Taxpayer.size_class,
        "industry_code": Taxpayer.industry_code, "region_code": Taxpayer.region_code,
        "registered_on": Taxpayer.registered_on,
    }[var]


def shift_years(today: date, years: int) -> date:
    """``today`` moved back ``years`` years; 29 Feb becomes 28 Feb in a common year."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def _at_least_years(years: int, today: date) -> ColumnElement[bool]:
    """years_registered ≥ ``years``  ⇔  registered_on ≤ today shifted back ``years`` years."""
    return and_(Taxpayer.registered_on.is_not(None), Taxpayer.registered_on <= shift_years(today, years))


def _years(op: str, n: int | None, today: date) -> ColumnElement[bool]:
    reg = Taxpayer.registered_on
    if n is None:  # only == / != null reach here
        return reg.is_(None) if op == "==" else reg.is_not(None)
    exactly = and_(_at_least_years(n, today), not_(_at_least_years(n + 1, today)))
    return {
        ">=": lambda: _at_least_years(n, today),
        ">": lambda: _at_least_years(n + 1, today),
        "<": lambda: and_(reg.is_not(None), not_(_at_least_years(n, today))),
        "<=": lambda: and_(reg.is_not(None), not_(_at_least_years(n + 1, today))),
        "==": lambda: exactly,
        "!=": lambda: not_(exactly),
    }[op]()


def _compare(node: Compare, today: date) -> ColumnElement[bool]:
    if node.var == "years_registered":
        return _years(node.op, node.value, today)  # type: ignore[arg-type]
    column = _column(node.var)
    if node.value is None:
        return column.is_(None) if node.op == "==" else column.is_not(None)
    if node.op == "==":
        return and_(column.is_not(None), column == node.value)
    if node.op == "!=":
        return or_(column.is_(None), column != node.value)
    return and_(column.is_not(None), _ORDER[node.op](column, node.value))


_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def compile_rule(node: Node, *, today: date) -> ColumnElement[bool]:
    """The WHERE clause selecting exactly the taxpayers ``rules.evaluate`` accepts on ``today``."""
    if isinstance(node, Const):
        return true() if node.value else false()
    if isinstance(node, And):
        return and_(*(compile_rule(c, today=today) for c in node.children))
    if isinstance(node, Or):
        return or_(*(compile_rule(c, today=today) for c in node.children))
    if isinstance(node, Not):
        return not_(compile_rule(node.child, today=today))
    if isinstance(node, Compare):
        return _compare(node, today)
    if isinstance(node, In):
        if node.var == "years_registered":
            return or_(*(_years("==", n, today) for n in node.values))  # type: ignore[arg-type]
        column = _column(node.var)
        return and_(column.is_not(None), column.in_(list(node.values)))
    assert isinstance(node, HasTag)
    return exists(select(TaxpayerTag.uscc).where(TaxpayerTag.uscc == Taxpayer.uscc, TaxpayerTag.tag == node.tag))


def compile_region_scope(scope: list[str]) -> ColumnElement[bool]:
    """SQL twin of ``domain.in_region_scope``: prefixes of the region code, empty = everywhere."""
    if not scope:
        return true()
    return and_(Taxpayer.region_code.is_not(None),
                or_(*(Taxpayer.region_code.startswith(prefix, autoescape=True) for prefix in scope)))
