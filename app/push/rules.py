"""Eligibility rules as data: a whitelisted JsonLogic subset, parsed into a small typed tree.

Grammar (anything else is rejected at save time with the JSON path of the offending part)::

    rule    := true | false | {"and": [rule, ...]} | {"or": [rule, ...]} | {"!": rule}
             | {"==" | "!=" | "===" | "!==": [operand, operand]}
             | {"<" | "<=" | ">" | ">=": [operand, operand]}
             | {"<" | "<=": [literal, {"var": v}, literal]}          (between)
             | {"in": [{"var": v}, [literal, ...]]}
             | {"in": ["tag", {"var": "tags"}]}
    operand := {"var": v} | literal      (exactly one side of a comparison is a variable)

Variables are typed (``VARIABLES``): enumerations accept only their values, ``years_registered``
whole numbers, ``registered_on`` ISO dates; ordering applies to numbers and dates only.
Semantics are two-valued: a comparison with a missing (null) value is false, ``!=`` against
a missing value is true. ``app.push.evaluate`` evaluates and explains the tree in memory;
``app.push.sqlrules`` compiles it to SQL with exactly the same semantics (property tests hold
the two together).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import Any, Union

from app.codes.domain import Color
from app.taxpayers.domain import Grade, SizeClass, State


class Kind(enum.Enum):
    ENUM = "enum"
    CODE = "code"
    YEARS = "years"
    DATE = "date"
    TAGS = "tags"


@dataclass(frozen=True)
class Variable:
    name: str
    kind: Kind
    label: str  # zh-CN, for explanations
    values: tuple[str, ...] = ()


VARIABLES: dict[str, Variable] = {v.name: v for v in (
    Variable("grade", Kind.ENUM, "纳税信用级别", tuple(g.value for g in Grade)),
    Variable("color", Kind.ENUM, "税码颜色", tuple(c.value for c in Color)),
    Variable("state", Kind.ENUM, "信用状态", tuple(s.value for s in State)),
    Variable("size_class", Kind.ENUM, "企业规模", tuple(s.value for s in SizeClass)),
    Variable("industry_code", Kind.CODE, "行业代码"),
    Variable("region_code", Kind.CODE, "行政区划代码"),
    Variable("registered_on", Kind.DATE, "登记日期"),
    Variable("years_registered", Kind.YEARS, "成立年限（年）"),
    Variable("tags", Kind.TAGS, "标签"),
)}

COMPARISONS = {"==": "==", "===": "==", "!=": "!=", "!==": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
ORDERING = {"<", "<=", ">", ">="}
FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
OP_TEXT = {"==": "为", "!=": "不为", "<": "小于", "<=": "不超过", ">": "大于", ">=": "不少于"}
#: Largest number of years a rule may mention (keeps date arithmetic in range).
MAX_YEARS = 200
#: Deepest nesting of and/or/! accepted (keeps evaluation, SQL and explanations small).
MAX_DEPTH = 12

Literal = Union[str, int, date, None]


class RuleError(ValueError):
    """A rule that cannot be saved; ``problems`` lists (JSON path, reason) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{path}: {reason}" for path, reason in problems))
        self.problems = problems


# --- the tree -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Const:
    value: bool
    path: str


@dataclass(frozen=True)
class And:
    children: tuple["Node", ...]
    path: str


@dataclass(frozen=True)
class Or:
    children: tuple["Node", ...]
    path: str


@dataclass(frozen=True)
class Not:
    child: "Node"
    path: str


@dataclass(frozen=True)
class Compare:
    """``var <op> value``, the variable always on the left (parsing flips the operator)."""

    var: str
    op: str
    value: Literal
    path: str


@dataclass(frozen=True)
class In:
    var: str
    values: tuple[Literal, ...]
    path: str


@dataclass(frozen=True)
class HasTag:
    tag: str
    path: str


Node = Union[Const, And, Or, Not, Compare, In, HasTag]


# --- parsing = validation -------------------------------------------------------------------

def parse_rule(rule: Any) -> Node:
    """Validate ``rule`` and return its tree; raises ``RuleError`` listing every problem."""
    problems: list[tuple[str, str]] = []
    node = _Parser(problems).rule(rule, "rule")
    if problems or node is None:
        raise RuleError(problems or [("rule", "is not a valid rule")])
    return node


class _Parser:
    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems

    def fail(self, path: str, reason: str) -> None:
        self.problems.append((path, reason))

    def rule(self, raw: Any, path: str, depth: int = 0) -> Node | None:
        if depth > MAX_DEPTH:
            self.fail(path, f"nests deeper than {MAX_DEPTH} levels")
            return None
        if isinstance(raw, bool):
            return Const(raw, path)
        if not isinstance(raw, dict) or len(raw) != 1:
            self.fail(path, "must be true, false or an object with exactly one operator")
            return None
        op, args = next(iter(raw.items()))
        here = f"{path}.{op}"
        if op in ("and", "or"):
            if not isinstance(args, list) or not args:
                self.fail(here, "takes a non-empty list of rules")
                return None
            children = [self.rule(arg, f"{here}[{i}]", depth + 1) for i, arg in enumerate(args)]
            if any(c is None for c in children):
                return None
            return (And if op == "and" else Or)(tuple(children), path)  # type: ignore[arg-type]
        if op == "!":
            if isinstance(args, list):
                if len(args) != 1:
                    self.fail(here, "takes exactly one rule")
                    return None
                child = self.rule(args[0], f"{here}[0]", depth + 1)
            else:
                child = self.rule(args, here, depth + 1)
            return Not(child, path) if child is not None else None
        if op in COMPARISONS:
            return self.comparison(COMPARISONS[op], args, here, path)
        if op == "in":
            return self.membership(args, here, path)
        if op == "var":
            self.fail(here, "a variable alone is not a rule; compare it with a value")
            return None
        self.fail(here, f"unknown operator {op!r}; allowed: and, or, !, ==, !=, <, <=, >, >=, in")
        return None

    def var_name(self, raw: Any, path: str) -> str | None:
        """The variable named by an operand, or None when the operand is not ``{"var": ...}``."""
        if not (isinstance(raw, dict) and "var" in raw):
            return None
        if len(raw) != 1:
            self.fail(path, "a variable object takes only the key 'var'")
            return ""
        name = raw["var"]
        if isinstance(name, list) and len(name) == 1:
            name = name[0]
        if not isinstance(name, str) or name not in VARIABLES:
            self.fail(f"{path}.var", f"unknown variable {name!r}; allowed: {', '.join(VARIABLES)}")
            return ""
        return name

    def literal(self, var: str, raw: Any, path: str, *, allow_null: bool) -> tuple[bool, Literal]:
        """Check ``raw`` as a value of ``var``; returns (ok, typed value)."""
        spec = VARIABLES[var]
        if raw is None:
            if allow_null:
                return True, None
            self.fail(path, "null is only allowed with == and !=")
            return False, None
        if isinstance(raw, (dict, list)) or isinstance(raw, bool):
            self.fail(path, f"must be a literal value for {var}")
            return False, None
        if spec.kind is Kind.ENUM:
            if raw not in spec.values:
                self.fail(path, f"{raw!r} is not a value of {var}; allowed: {', '.join(spec.values)}")
                return False, None
            return True, raw
        if spec.kind is Kind.CODE:
            if not isinstance(raw, str) or not raw or len(raw) > 12:
                self.fail(path, f"must be a code string of 1–12 characters for {var}")
                return False, None
            return True, raw
        if spec.kind is Kind.YEARS:
            if not isinstance(raw, int) or not 0 <= raw <= MAX_YEARS:
                self.fail(path, f"must be a whole number of years from 0 to {MAX_YEARS}")
                return False, None
            return True, raw
        if spec.kind is Kind.DATE:
            try:
                if isinstance(raw, str) and len(raw) == 10:
                    return True, date.fromisoformat(raw)
            except ValueError:
                pass
            self.fail(path, "must be a date as YYYY-MM-DD")
            return False, None
        self.fail(path, "tags can only be tested with {\"in\": [\"tag\", {\"var\": \"tags\"}]}")
        return False, None

    def comparison(self, op: str, args: Any, here: str, path: str) -> Node | None:
        if not isinstance(args, list) or len(args) not in (2, 3) or (len(args) == 3 and op not in ("<", "<=")):
            self.fail(here, "takes a list of two operands (three only for the < and <= between form)")
            return None
        names = [self.var_name(a, f"{here}[{i}]") for i, a in enumerate(args)]
        if "" in names:
            return None
        if len(args) == 3:
            if names[1] is None or names[0] is not None or names[2] is not None:
                self.fail(here, "the between form is [low, {\"var\": ...}, high]")
                return None
            low = self.ordered(op, names[1], args[0], f"{here}[0]", path, flip=True)
            high = self.ordered(op, names[1], args[2], f"{here}[2]", path, flip=False)
            return And((low, high), path) if low and high else None
        if (names[0] is None) == (names[1] is None):
            self.fail(here, "compare exactly one variable with one literal value")
            return None
        var_index = 0 if names[0] is not None else 1
        var = names[var_index]
        assert var is not None
        lit_path = f"{here}[{1 - var_index}]"
        if op in ORDERING:
            return self.ordered(op, var, args[1 - var_index], lit_path, path, flip=var_index == 1)
        if VARIABLES[var].kind is Kind.TAGS:
            self.fail(f"{here}[{var_index}]", "tags can only be tested with in")
            return None
        ok, value = self.literal(var, args[1 - var_index], lit_path, allow_null=True)
        return Compare(var, op, value, path) if ok else None

    def ordered(self, op: str, var: str, raw: Any, lit_path: str, path: str, *, flip: bool) -> Compare | None:
        if VARIABLES[var].kind not in (Kind.YEARS, Kind.DATE):
            self.fail(lit_path, f"{var} cannot be ordered; use == , != or in")
            return None
        ok, value = self.literal(var, raw, lit_path, allow_null=False)
        return Compare(var, FLIP[op] if flip else op, value, path) if ok else None

    def membership(self, args: Any, here: str, path: str) -> Node | None:
        if not isinstance(args, list) or len(args) != 2:
            self.fail(here, "takes [value, list] or [\"tag\", {\"var\": \"tags\"}]")
            return None
        first, second = (self.var_name(a, f"{here}[{i}]") for i, a in enumerate(args))
        if first == "" or second == "":
            return None
        if second == "tags" and first is None:
            tag = args[0]
            if not isinstance(tag, str) or not 1 <= len(tag) <= 32:
                self.fail(f"{here}[0]", "a tag is a string of 1–32 characters")
                return None
            return HasTag(tag, path)
        if first is None or second is not None:
            self.fail(here, "takes [{\"var\": ...}, [values]] or [\"tag\", {\"var\": \"tags\"}]")
            return None
        if VARIABLES[first].kind is Kind.TAGS:
            self.fail(f"{here}[0]", "test tags as [\"tag\", {\"var\": \"tags\"}]")
            return None
        if not isinstance(args[1], list) or not 1 <= len(args[1]) <= 1000:
            self.fail(f"{here}[1]", "must be a list of 1–1000 values")
            return None
        values = [self.literal(first, raw, f"{here}[1][{i}]", allow_null=False) for i, raw in enumerate(args[1])]
        if not all(ok for ok, _ in values):
            return None
        return In(first, tuple(v for _, v in values), path)
