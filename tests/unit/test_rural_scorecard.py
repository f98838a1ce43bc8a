"""The default scorecard (Xi'an 2018) as data: worked examples, bands, vetoes, versions."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from app.rural.domain import HouseholdFacts, RuralGrade
from app.rural.scorecard import ScorecardError, evaluate, explain
from app.rural.scorecard_parse import load_scorecard_file, parse_scorecard
from tests.rural_factories import GOOD_FACTS, WEAK_FACTS

CARD = parse_scorecard(load_scorecard_file())


def score(**changes):
    return evaluate(CARD, HouseholdFacts.from_mapping(GOOD_FACTS | changes))


def test_worked_example_farming_household_scores_92_and_is_aaa():
    result = score()
    assert (result.score, result.grade, result.veto) == (Decimal(92), RuralGrade.AAA, None)
    assert result.subtotals == {"basics": 34, "finances": 43, "credit": 10, "adjustments": 5}
    reasons = {i.key: i.reason for i in result.items}
    assert reasons["members"] == "家庭人口：4 人（3–4 人档），5 分"
    assert reasons["village_assessment"] == "村委会评议：好，加分，+3 分"


def test_every_indicator_of_the_scorecard_appears_with_points_and_reason():
    result = score()
    assert [i.key for i in result.items] == list(CARD.rules())
    assert all(i.reason.endswith("分") for i in result.items)


def test_deductions_bring_a_household_down_to_a():
    result = score(bad_records=["illegal_act", "unpaid_fees"])
    assert (result.score, result.grade) == (Decimal(77), RuralGrade.A)


def test_weak_household_is_not_a_credit_household():
    result = evaluate(CARD, HouseholdFacts.from_mapping(WEAK_FACTS))
    assert (result.score, result.grade, result.veto) == (Decimal(23), None, None)


def test_bad_central_bank_record_vetoes_whatever_the_score():
    result = score(credit_record="bad")
    assert result.score == Decimal(86) and result.grade is None
    assert result.veto == "bad_credit_record" and "征信" in result.veto_reason


def test_debt_evasion_vetoes():
    assert score(debt_evasion=True).veto == "debt_evasion"


def test_score_never_exceeds_the_maximum_even_with_bonuses():
    result = score(assets="1500000", operating_income="400000", annual_income="300000", deposits="200000",
                   land_area="30", labourers=3, education="high_school", honours=3)
    # README worked example 4: 38 + 50 + 10 + 7 = 105, held at 100
    assert result.subtotals == {"basics": 38, "finances": 50, "credit": 10, "adjustments": 7}
    assert (result.score, result.grade) == (Decimal(100), RuralGrade.AAA)


def test_score_never_goes_below_zero():
    result = evaluate(CARD, HouseholdFacts.from_mapping(
        WEAK_FACTS | {"bad_records": ["illegal_act", "loan_misuse", "gambling", "unpaid_fees"],
                      "village_assessment": "poor"}))
    assert result.score == 0


@pytest.mark.parametrize("points, grade", [(90, RuralGrade.AAA), (Decimal("89.99"), RuralGrade.AA),
                                           (80, RuralGrade.AA), (79, RuralGrade.A), (70, RuralGrade.A), (69, None)])
def test_grade_bands_at_their_edges(points, grade):
    assert CARD.grade_for(Decimal(points)) is grade


def test_band_lower_bound_is_inclusive_and_upper_exclusive():
    at = {i.key: i.points for i in score(assets="200000").items}
    below = {i.key: i.points for i in score(assets="199999.99").items}
    assert (at["assets"], below["assets"]) == (10, 8)


def test_stored_items_explain_the_same_reasons():
    result = score()
    assert [i.reason for i in explain(CARD, result.compact_items())] == [i.reason for i in result.items]


def test_a_stricter_county_scorecard_is_just_data():
    body = copy.deepcopy(load_scorecard_file())
    body["name"], body["bands"] = "county-strict", [{"grade": "AAA", "min": 95}, {"grade": "AA", "min": 90},
                                                    {"grade": "A", "min": 80}]
    assert evaluate(parse_scorecard(body), HouseholdFacts.from_mapping(GOOD_FACTS)).grade is RuralGrade.AA


@pytest.mark.parametrize("mutate, field", [
    (lambda b: b["groups"][0].__setitem__("max", 45), "groups[0].max"),
    (lambda b: b["groups"][1]["indicators"][0].__setitem__("field", "shoe_size"), "groups[1].indicators[0].field"),
    (lambda b: b["bands"].__setitem__(0, {"grade": "AAAA", "min": 90}), "bands[0].grade"),
    (lambda b: b["vetoes"][0].pop("equals"), "vetoes[0].equals"),
    (lambda b: b["groups"][0]["indicators"][3]["options"].__setitem__("superb", {"points": 1}),
     "groups[0].indicators[3].options"),
    # numbers no rating can hold: each would overflow the decimal context (a 500) or be rounded in storage
    (lambda b: b["groups"][2]["indicators"][0]["options"]["clean"].__setitem__("points", "1e999999999"),
     "groups[2].indicators[0].options.clean.points"),
    (lambda b: b["adjustments"][0].__setitem__("points", "9e999999"), "adjustments[0].points"),
    (lambda b: b["adjustments"][0].__setitem__("cap", "-1e-999999"), "adjustments[0].cap"),
    (lambda b: b["bands"][0].__setitem__("min", "90.005"), "bands[0].min"),
    (lambda b: b["groups"][1]["indicators"][2]["bands"][0].__setitem__("max", "0.12345"),
     "groups[1].indicators[2].bands[0].max"),
    (lambda b: b["groups"][1]["indicators"][0]["bands"][0].__setitem__("min", 10**12),
     "groups[1].indicators[0].bands[0].min"),
    # rural_ratings.veto is VARCHAR(32)
    (lambda b: b["vetoes"][0].__setitem__("key", "k" * 33), "vetoes[0].key"),
])
def test_malformed_scorecards_name_the_bad_field(mutate, field):
    body = copy.deepcopy(load_scorecard_file())
    mutate(body)
    with pytest.raises(ScorecardError) as info:
        parse_scorecard(body)
    assert info.value.field == field


def test_a_scorecard_may_score_the_debt_ratio_to_four_decimals_and_points_to_two():
    body = copy.deepcopy(load_scorecard_file())
    body["groups"][1]["indicators"][2]["bands"][0]["max"] = "0.1234"
    body["adjustments"][0]["points"] = "1.25"
    body["vetoes"][0]["key"] = "k" * 32
    assert parse_scorecard(body).adjustments[0].points == Decimal("1.25")


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8)
    | st.sampled_from(["1e999999999", "9e999999", "-1e-999999"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


def _paths(node, prefix=()):
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*prefix, key))


_DEFAULT = load_scorecard_file()
_ALL_PATHS = [p for p in _paths(_DEFAULT) if p]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_ALL_PATHS), _json)
def test_any_corrupted_scorecard_is_refused_with_a_field_or_still_evaluates(path, value):
    body = copy.deepcopy(_DEFAULT)
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    try:
        card = parse_scorecard(body)
    except ScorecardError as exc:
        assert exc.field and exc.reason
        return
    result = evaluate(card, HouseholdFacts.from_mapping(GOOD_FACTS))
    assert 0 <= result.score <= card.max_score
