"""Loan limits and rates, notice and validity dates, village/township/county thresholds at their edges."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from app.rural.domain import PlaceLevel, RuralGrade, notice_ends_at, valid_until
from app.rural.limits import loan_limit, loan_rate
from app.rural.policy import DEFAULT_POLICY, PolicyError, load_policy, parse_policy
from app.rural.standing import Figures, rollup_status, village_status

POLICY = load_policy()
D = Decimal


def limit(grade, assets, income):
    return loan_limit(grade, assets=D(assets), operating_income=D(income), policy=POLICY.limits)


def test_aaa_limit_is_base_plus_ten_percent_of_assets_plus_thirty_percent_of_operating_income():
    quote = limit(RuralGrade.AAA, "300000", "80000")
    assert quote.amount == D("154000.00")
    assert [(t.key, t.amount) for t in quote.terms] == [
        ("base", D("100000.00")), ("assets", D("30000.00")), ("operating_income", D("24000.00"))]
    assert quote.terms[1].label == "家庭资产 300,000 元 × 10%"


def test_an_a_household_gets_the_a_base_with_the_same_asset_and_income_terms():
    assert limit(RuralGrade.A, "300000", "80000").amount == D("104000.00")  # README worked example 2


def test_limit_is_capped_at_200000_and_the_cap_is_shown_as_a_term():
    quote = limit(RuralGrade.AAA, "1500000", "400000")
    assert quote.amount == D("200000.00")
    assert quote.terms[-1].key == "cap" and quote.terms[-1].amount == D("-170000.00")


def test_limit_is_rounded_down_to_whole_hundreds_with_the_rounding_shown():
    quote = limit(RuralGrade.A, "12345", "0")
    assert quote.amount == D("51200.00")
    assert quote.terms[-1].key == "rounding" and quote.terms[-1].amount == D("-34.50")


def test_an_ungraded_household_gets_no_limit():
    quote = limit(None, "300000", "80000")
    assert quote.amount == 0 and quote.terms[0].key == "not_rated"


@pytest.mark.parametrize("stars, bp, rate", [(0, "267.5", "5.675"), (1, "257.5", "5.575"), (2, "247.5", "5.475"),
                                             (3, "237.5", "5.375"), (5, "237.5", "5.375")])
def test_rate_is_lpr_plus_basis_points_by_village_stars(stars, bp, rate):
    quote = loan_rate(stars, POLICY.rates)
    assert (quote.bp, quote.rate) == (D(bp), D(rate))
    assert "LPR 3%" in quote.explanation


def test_notice_runs_seven_full_local_days_after_the_day_it_was_posted():
    posted = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
    assert notice_ends_at(posted, 7) == datetime(2026, 12, 2, 16, 0, tzinfo=timezone.utc)  # 3 Dec 00:00 +08
    late = datetime(2026, 11, 25, 17, 0, tzinfo=timezone.utc)  # already 26 Nov in Shanghai
    assert notice_ends_at(late, 7) == datetime(2026, 12, 3, 16, 0, tzinfo=timezone.utc)


def test_a_rating_holds_for_one_year_and_a_leap_day_rolls_to_march():
    assert valid_until(date(2026, 12, 3)) == date(2027, 12, 3)
    assert valid_until(date(2028, 2, 29)) == date(2029, 3, 1)


def village(households=100, credit=70, borrowers=20, arrears=3, balance="1000000", npl="0", new_npl="0"):
    figures = Figures(households=households, credit_households=credit, borrowers=borrowers,
                      borrowers_in_arrears=arrears, balance=D(balance), npl_balance=D(npl), new_npl_balance=D(new_npl))
    return village_status("330283001001", "一村", figures, POLICY)


def checks(status):
    return {c.key: c for c in status.checks}


def test_village_with_exactly_seventy_percent_credit_households_is_a_credit_village():
    status = village(credit=70)
    assert status.credit and status.stars == 1
    assert checks(status)["credit_household_share"].margin == 0


def test_village_one_household_short_misses_by_one_percentage_point():
    status = village(credit=69)
    assert not status.credit
    check = checks(status)["credit_household_share"]
    assert (check.met, check.margin) == (False, D("-0.01"))
    assert check.to_json()["margin"] == "-0.0100"


def test_eighty_five_percent_without_arrears_is_enough_but_less_is_not():
    assert village(borrowers=20, arrears=3).credit  # 17/20 = 85%
    assert not village(borrowers=20, arrears=4).credit


def test_npl_share_must_stay_strictly_below_five_percent():
    assert village(npl="49999.99").credit
    missed = village(npl="50000")
    assert not missed.credit and checks(missed)["npl_share"].margin == 0


def test_new_npl_this_year_must_stay_below_one_percent():
    assert not village(npl="10000", new_npl="10000").credit
    assert village(npl="9999", new_npl="9999").credit


def test_a_village_without_borrowers_has_no_arrears():
    status = village(borrowers=0, arrears=0, balance="0")
    assert status.credit and status.shares["no_arrears_share"] == 1


def test_a_village_without_households_is_not_a_credit_village():
    assert not village(households=0, credit=0).credit


def test_star_levels_come_from_the_policy_table():
    assert village(credit=80, npl="29999").stars == 2
    assert village(credit=90, npl="9999").stars == 3
    assert village(credit=90, npl="10000").stars == 2


def test_township_needs_half_its_villages_credit_villages_and_ninety_percent_without_arrears():
    good, bad = village(credit=80, arrears=0), village(credit=10, arrears=0)
    assert rollup_status(PlaceLevel.TOWNSHIP, "330283001", "一镇", [good, bad], POLICY).credit
    assert not rollup_status(PlaceLevel.TOWNSHIP, "330283001", "一镇", [good, bad, bad], POLICY).credit
    arrears = village(credit=80, borrowers=20, arrears=3)  # 85% is a credit village, but the township needs 90%
    status = rollup_status(PlaceLevel.TOWNSHIP, "330283001", "一镇", [arrears], POLICY)
    assert not status.credit and {c.key: c.met for c in status.checks} == {
        "credit_village_share": True, "no_arrears_share": False}


def test_county_needs_sixty_percent_credit_villages():
    good, bad = village(), village(credit=0)
    assert rollup_status(PlaceLevel.COUNTY, "330283", "县", [good] * 3 + [bad] * 2, POLICY).credit
    status = rollup_status(PlaceLevel.COUNTY, "330283", "县", [good] * 5 + [bad] * 4, POLICY)
    assert not status.credit and status.checks[0].margin < 0
    assert status.figures.households == 900 and status.credit_villages == 5


def test_policy_thresholds_and_dates_are_data():
    raw = json.loads(DEFAULT_POLICY.read_text())
    custom = copy.deepcopy(raw)
    custom["village"]["thresholds"][0]["value"] = "0.60"
    assert village_status("330283001001", "一村", Figures(households=10, credit_households=6),
                          parse_policy(custom)).credit
    assert POLICY.deadlines(2026)["village"]["due"] == date(2027, 1, 31)
    assert POLICY.deadlines(2026)["household"]["due"] == date(2026, 12, 31)


def test_malformed_policy_is_refused():
    raw = json.loads(DEFAULT_POLICY.read_text())
    raw["village"]["thresholds"][0]["op"] = "=~"
    with pytest.raises(PolicyError):
        parse_policy(raw)
