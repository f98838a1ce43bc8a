"""Grade, color, privilege and token-claim rules, without any I/O."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app.codes.domain import Color, PrivilegeCatalogue, Verdict, code_claims, color_for, judge_freshness
from app.taxpayers.domain import Grade, GradeRuleError, GradeStatus, State, check_grade_record, grade_for_score

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("grade,color", [(Grade.A, Color.GOLD), (Grade.B, Color.SILVER), (Grade.M, Color.GREEN),
                                         (Grade.C, Color.BLUE), (Grade.D, Color.RED)])
def test_each_grade_has_its_color(grade, color):
    assert color_for(grade, State.NORMAL) is color


@pytest.mark.parametrize("grade", list(Grade))
def test_blacklisted_is_red_whatever_the_grade(grade):
    assert color_for(grade, State.BLACKLISTED) is Color.RED


def test_unrated_and_suspended_have_their_own_neutral_colors():
    assert color_for(None, State.UNRATED) is Color.GREY
    assert color_for(Grade.A, State.SUSPENDED) is Color.SLATE


@pytest.mark.parametrize("score,grade", [("100", "A"), ("90", "A"), ("89.99", "B"), ("70", "B"), ("69.5", "C"),
                                         ("40", "C"), ("39.99", "D"), ("0", "D")])
def test_score_bands(score, grade):
    assert grade_for_score(Decimal(score)).value == grade


@pytest.mark.parametrize("grade,state,score,year,field", [
    (Grade.A, State.NORMAL, Decimal("85"), 2025, "score"),
    (Grade.A, State.UNRATED, None, 2025, "grade"),
    (None, State.NORMAL, None, 2025, "grade"),
    (Grade.B, State.NORMAL, None, 2013, "year"),
    (Grade.B, State.NORMAL, Decimal("101"), 2025, "score"),
])
def test_impossible_grade_records_are_refused_naming_the_field(grade, state, score, year, field):
    with pytest.raises(GradeRuleError) as info:
        check_grade_record(grade, state, score, year, today=date(2026, 11, 25))
    assert info.value.field == field


def test_m_and_d_grades_accept_any_score_because_they_are_decided_by_facts():
    check_grade_record(Grade.M, State.NORMAL, Decimal("95"), 2025, today=date(2026, 1, 1))
    check_grade_record(Grade.D, State.NORMAL, Decimal("95"), 2025, today=date(2026, 1, 1))


def _status(grade: Grade | None = Grade.A, state: State = State.NORMAL) -> GradeStatus:
    return GradeStatus("91350100M000100Y43", "福州某某有限公司", grade, state, 2025, NOW)


def test_claims_carry_only_what_a_verifier_needs():
    claims = code_claims(_status(), subject="sealed", issuer="https://iss", now=NOW, ttl=timedelta(seconds=60),
                         jti="abc")
    assert claims == {"iss": "https://iss", "sub": "sealed", "grade": "A", "color": "gold",
                      "state": "normal", "iat": int(NOW.timestamp()), "exp": int(NOW.timestamp()) + 60, "jti": "abc"}


def test_code_is_stale_when_grade_or_state_changed():
    claims = code_claims(_status(), subject="s", issuer="i", now=NOW, ttl=timedelta(seconds=60), jti="j")
    assert judge_freshness(claims, _status()) is Verdict.OK
    assert judge_freshness(claims, _status(Grade.D)) is Verdict.STALE
    assert judge_freshness(claims, _status(Grade.A, State.SUSPENDED)) is Verdict.STALE
    assert Verdict.STALE.valid and not Verdict.EXPIRED.valid


def test_default_catalogue_unlocks_guidance_for_gold_and_silver_and_loans_for_green_and_above():
    catalogue = PrivilegeCatalogue.load()
    keys = {color: {p.key for p in catalogue.for_color(color)} for color in Color}
    assert {c for c, k in keys.items() if "tax_guidance" in k} == {Color.GOLD, Color.SILVER}
    assert {c for c, k in keys.items() if "bank_tax_loan" in k} == {Color.GOLD, Color.SILVER, Color.GREEN}
    assert {c for c, k in keys.items() if "credit_repair" in k} >= {Color.RED}
    assert keys[Color.GREY] == keys[Color.SLATE] == set()


def test_a_region_can_admit_blue_to_loans_by_data_alone():
    catalogue = PrivilegeCatalogue.from_data([{"key": "bank_tax_loan", "title": "银税互动贷款", "description": "湖北 2020",
                                               "colors": ["gold", "silver", "green", "blue"]}])
    assert [p.key for p in catalogue.for_color(Color.BLUE)] == ["bank_tax_loan"]


def test_catalogue_rejects_unknown_colors():
    with pytest.raises(ValueError, match="purple"):
        PrivilegeCatalogue.from_data([{"key": "x", "title": "x", "description": "x", "colors": ["purple"]}])
