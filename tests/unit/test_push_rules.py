"""Eligibility rules: validation at save time, evaluation, explanation, and SQL ≡ memory."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from app.push.models import TaxpayerTag
from app.push.evaluate import evaluate, explain, profile_of
from app.push.rules import RuleError, parse_rule
from app.push.sqlrules import compile_rule, shift_years
from app.taxpayers.models import Taxpayer

TODAY = date(2026, 11, 25)


def profile(**values):
    base = dict(grade="B", state="normal", industry_code="5191", region_code="330203", size_class="small",
                registered_on=date(2015, 6, 1), tags=(), today=TODAY)
    base.update(values)
    return profile_of(**base)


@pytest.mark.parametrize("rule, path, reason", [
    ({"==": [{"var": "colour"}, "red"]}, "rule.==[0].var", "unknown variable"),
    ({"xor": [True, False]}, "rule.xor", "unknown operator"),
    ({"==": [{"var": "grade"}, "E"]}, "rule.==[1]", "not a value of grade"),
    ({"and": []}, "rule.and", "non-empty list"),
    ({"or": [True, {">": [{"var": "region_code"}, "33"]}]}, "rule.or[1].>[1]", "cannot be ordered"),
    ({">=": [{"var": "years_registered"}, 2.5]}, "rule.>=[1]", "whole number"),
    ({"<": [{"var": "registered_on"}, "2020-02-30"]}, "rule.<[1]", "YYYY-MM-DD"),
    ({"==": [{"var": "grade"}, {"var": "state"}]}, "rule.==", "exactly one variable"),
    ({"in": [{"var": "grade"}, "ABC"]}, "rule.in[1]", "list of 1–1000 values"),
    ({"!": [True, False]}, "rule.!", "exactly one rule"),
    ({"var": "grade"}, "rule.var", "not a rule"),
    ("A", "rule", "exactly one operator"),
    ({"==": [{"var": "tags"}, "export"]}, "rule.==[0]", "tags can only be tested with in"),
])
def test_bad_rules_are_rejected_pointing_at_the_bad_part(rule, path, reason):
    with pytest.raises(RuleError) as caught:
        parse_rule(rule)
    assert any(p == path and reason in r for p, r in caught.value.problems), caught.value.problems


def test_a_rule_nested_too_deeply_is_rejected_not_crashed_on():
    rule: object = True
    for _ in range(500):
        rule = {"!": rule}
    with pytest.raises(RuleError) as caught:
        parse_rule(rule)
    assert "nests deeper than 12 levels" in caught.value.problems[0][1]


def test_every_problem_in_a_rule_is_reported_not_just_the_first():
    rule = {"and": [{"==": [{"var": "nope"}, 1]}, {"==": [{"var": "grade"}, "Z"]}]}
    with pytest.raises(RuleError) as caught:
        parse_rule(rule)
    assert [p for p, _ in caught.value.problems] == ["rule.and[0].==[0].var", "rule.and[1].==[1]"]


def test_red_covers_grade_d_and_blacklisted_but_not_suspended():
    rule = parse_rule({"==": [{"var": "color"}, "red"]})
    assert evaluate(rule, profile(grade="D"))
    assert evaluate(rule, profile(grade="A", state="blacklisted"))
    assert not evaluate(rule, profile(grade="D", state="suspended"))


def test_comparisons_with_a_missing_value_are_false_and_not_equal_is_true():
    p = profile(registered_on=None, size_class=None)
    assert not evaluate(parse_rule({">=": [{"var": "years_registered"}, 0]}), p)
    assert not evaluate(parse_rule({"<": [{"var": "years_registered"}, 100]}), p)
    assert evaluate(parse_rule({"!=": [{"var": "size_class"}, "small"]}), p)
    assert evaluate(parse_rule({"==": [{"var": "size_class"}, None]}), p)


def test_years_registered_counts_whole_years_like_birthdays():
    rule = parse_rule({">=": [{"var": "years_registered"}, 3]})
    assert evaluate(rule, profile(registered_on=date(2023, 11, 25)))
    assert not evaluate(rule, profile(registered_on=date(2023, 11, 26)))


def test_between_form_and_literal_on_the_left_mean_what_they_say():
    between = parse_rule({"<=": [3, {"var": "years_registered"}, 10]})
    assert evaluate(between, profile(registered_on=date(2016, 1, 1)))
    assert not evaluate(between, profile(registered_on=date(2010, 1, 1)))
    flipped = parse_rule({">": ["2020-01-01", {"var": "registered_on"}]})  # registered before 2020
    assert evaluate(flipped, profile(registered_on=date(2019, 12, 31)))


def test_explanation_lists_the_satisfied_clauses_with_their_paths():
    rule = parse_rule({"and": [{"in": [{"var": "grade"}, ["A", "B"]]},
                               {"or": [{"==": [{"var": "size_class"}, "large"]}, {"in": ["export", {"var": "tags"}]}]},
                               {"!": {"==": [{"var": "state"}, "blacklisted"]}}]})
    got = explain(rule, profile(tags=("export",)))
    assert got == [
        {"path": "rule.and[0]", "clause": "纳税信用级别 属于 A、B"},
        {"path": "rule.and[1].or[1]", "clause": "带有标签 export"},
        {"path": "rule.and[2].!", "clause": "信用状态 不为 blacklisted"},
    ]
    assert explain(rule, profile(grade="C")) == []


def test_shift_years_maps_29_february_to_28_february():
    assert shift_years(date(2024, 2, 29), 1) == date(2023, 2, 28)


# --- SQL and memory agree ------------------------------------------------------------------------

GRADES = ["A", "B", "M", "C", "D", None]
STATES = ["normal", "unrated", "suspended", "blacklisted"]
COLORS = ["gold", "silver", "green", "blue", "red", "grey", "slate"]
SIZES = ["micro", "small", "medium", "large", None]
CODES = ["5191", "3421", "6513", None]
REGIONS = ["330203", "330205", "330281", None]
TAGS = ["export", "high_tech", "new"]
#: Birthday edges around the test days (29 Feb, 1 Mar, 25 Nov, 1 Jan) that random dates rarely hit.
EDGES = [date(y, m, d) for y in (2000, 2016, 2020, 2021, 2023, 2024, 2025) for m, d in ((2, 28), (3, 1), (11, 25),
                                                                                    (11, 26), (1, 1), (12, 31))]
dates = st.one_of(st.none(), st.sampled_from(EDGES + [date(2020, 2, 29), date(2016, 2, 29)]),
                  st.dates(min_value=date(1990, 1, 1), max_value=date(2027, 12, 31)))

profiles = st.fixed_dictionaries({
    "grade": st.sampled_from(GRADES), "state": st.sampled_from(STATES), "size_class": st.sampled_from(SIZES),
    "industry_code": st.sampled_from(CODES), "region_code": st.sampled_from(REGIONS), "registered_on": dates,
    "tags": st.lists(st.sampled_from(TAGS), unique=True, max_size=3),
})

var = lambda name: {"var": name}  # noqa: E731
ENUM_VALUES = {"grade": GRADES[:-1], "state": STATES, "color": COLORS, "size_class": SIZES[:-1],
               "industry_code": CODES[:-1], "region_code": REGIONS[:-1]}


def leaves():
    equality = st.builds(
        lambda op, name, value, flip: {op: [value, var(name)] if flip else [var(name), value]},
        st.sampled_from(["==", "!="]), st.sampled_from(list(ENUM_VALUES)), st.none(), st.booleans(),
    ) | st.sampled_from(list(ENUM_VALUES)).flatmap(lambda name: st.builds(
        lambda op, value: {op: [var(name), value]}, st.sampled_from(["==", "!="]),
        st.sampled_from(ENUM_VALUES[name])))
    membership = st.sampled_from(list(ENUM_VALUES)).flatmap(lambda name: st.builds(
        lambda values: {"in": [var(name), values]}, st.lists(st.sampled_from(ENUM_VALUES[name]), min_size=1,
                                                              max_size=3)))
    years = st.builds(lambda op, n: {op: [var("years_registered"), n]},
                      st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), st.integers(0, 40))
    years_in = st.builds(lambda ns: {"in": [var("years_registered"), ns]}, st.lists(st.integers(0, 40), min_size=1,
                                                                                     max_size=3))
    between = st.builds(lambda op, lo, hi: {op: [lo, var("years_registered"), hi]}, st.sampled_from(["<", "<="]),
                        st.integers(0, 20), st.integers(0, 40))
    on_date = st.builds(lambda op, d: {op: [var("registered_on"), d.isoformat()]},
                        st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
                        st.dates(min_value=date(1990, 1, 1), max_value=date(2027, 12, 31)))
    tag = st.builds(lambda t: {"in": [t, var("tags")]}, st.sampled_from(TAGS))
    return equality | membership | years | years_in | between | on_date | tag | st.booleans()


rules = st.recursive(leaves(), lambda children: (
    st.builds(lambda xs: {"and": xs}, st.lists(children, min_size=1, max_size=3))
    | st.builds(lambda xs: {"or": xs}, st.lists(children, min_size=1, max_size=3))
    | st.builds(lambda x: {"!": x}, children)), max_leaves=8)


@pytest.fixture(scope="module")
def engine():
    engine = create_engine("sqlite://")
    Taxpayer.__table__.create(engine)
    TaxpayerTag.__table__.create(engine)
    yield engine
    engine.dispose()


def agree_on(engine, rule, batch, today):
    """Load ``batch`` into the tables and compare the SQL selection with the in-memory one."""
    tree = parse_rule(rule)
    with Session(engine) as session:
        session.execute(TaxpayerTag.__table__.delete())
        session.execute(Taxpayer.__table__.delete())
        rows = [{"uscc": f"{i:018d}", "name": "x", "state": p["state"], "grade": p["grade"],
                 "size_class": p["size_class"], "industry_code": p["industry_code"], "region_code": p["region_code"],
                 "registered_on": p["registered_on"]} for i, p in enumerate(batch)]
        session.execute(insert(Taxpayer), rows)
        tags = [{"uscc": f"{i:018d}", "tag": t} for i, p in enumerate(batch) for t in p["tags"]]
        if tags:
            session.execute(insert(TaxpayerTag), tags)
        by_sql = set(session.scalars(select(Taxpayer.uscc).where(compile_rule(tree, today=today))))
        session.rollback()
    by_memory = {f"{i:018d}" for i, p in enumerate(batch) if evaluate(tree, profile_of(**p, today=today))}
    assert by_sql == by_memory, (rule, sorted(by_sql ^ by_memory))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule=rules, batch=st.lists(profiles, min_size=1, max_size=25),
       today=st.sampled_from([TODAY, date(2024, 2, 29), date(2025, 3, 1), date(2026, 1, 1)]))
def test_sql_and_memory_select_the_same_taxpayers(engine, rule, batch, today):
    agree_on(engine, rule, batch, today)


@pytest.mark.parametrize("today", [date(2024, 2, 29), date(2025, 2, 28), date(2025, 3, 1), TODAY])
def test_sql_years_registered_agrees_with_memory_on_every_birthday_edge(engine, today):
    batch = [{"grade": "B", "state": "normal", "size_class": None, "industry_code": None, "region_code": None,
              "registered_on": d, "tags": []} for d in EDGES + [date(2020, 2, 29), date(2016, 2, 29), None]]
    for n in range(0, 27):
        rule = {"or": [{op: [var("years_registered"), n]} for op in ("==", "<", ">")]
                + [{"and": [{op: [var("years_registered"), n]} for op in ("<=", ">=", "!=")]}]}
        for part in rule["or"]:
            agree_on(engine, part, batch, today)
