"""Household and loan CSV lines: every bad cell becomes a reason on its field, never an exception."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings, strategies as st

from app.rural.importer import HOUSEHOLD_OPTIONAL, HOUSEHOLD_REQUIRED, parse_household
from app.rural.loans import LOAN_OPTIONAL, LOAN_REQUIRED, parse_loan
from app.rural.reports import _as_text
from tests.rural_factories import HOUSEHOLD_HEADER, csv_line, make_id_number

TODAY = date(2026, 11, 25)
GOOD = dict(zip(HOUSEHOLD_HEADER.split(","), csv_line("330283001001", "张三", make_id_number(7)).split(",")))
GOOD_LOAN = {"loan_no": "L1", "id_number": make_id_number(7), "amount": "50000", "balance": "100",
             "days_overdue": "0", "issued_on": "2026-01-01", "as_of": "2026-11-20"}
_cells = st.text(max_size=12) | st.sampled_from(["", "-1", "1e30", "NaN", "99999999999999", "3.141", "是", "x",
                                                "1e1000000", "-1e1000000", "1e-1000000"])


def test_a_good_line_parses_to_household_columns():
    values, problems = parse_household(GOOD, today=TODAY)
    assert problems == {} and values["members"] == 4 and values["bad_records"] == ""


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(HOUSEHOLD_REQUIRED + HOUSEHOLD_OPTIONAL), _cells, min_size=1))
def test_any_corrupted_household_line_names_its_bad_fields(changes):
    values, problems = parse_household(GOOD | changes, today=TODAY)
    assert (values is None) == bool(problems)
    assert set(problems) <= set(HOUSEHOLD_REQUIRED + HOUSEHOLD_OPTIONAL)


@pytest.mark.parametrize("field", ["assets", "debts", "land_area"])
@pytest.mark.parametrize("cell", ["1e1000000", "-1e1000000", "1e-1000000"])
def test_money_or_land_past_the_decimal_range_is_a_reason_on_its_field(field, cell):
    assert parse_household(GOOD | {field: cell}, today=TODAY) == (None, {field: [
        "必须是面积（亩，最多两位小数）" if field == "land_area" else "必须是金额（元，最多两位小数）"]})


@pytest.mark.parametrize("field", ["amount", "balance"])
def test_a_loan_amount_past_the_decimal_range_is_a_reason_on_its_field(field):
    values, problems = parse_loan(GOOD_LOAN | {field: "1e1000000"}, today=TODAY)
    assert (values, problems) == (None, {field: ["必须是金额（元，最多两位小数）"]})


def test_a_good_loan_line_parses_and_an_overdue_one_knows_since_when():
    values, problems = parse_loan(GOOD_LOAN | {"days_overdue": "20"}, today=TODAY)
    assert problems == {} and values["overdue_since"] == date(2026, 10, 31)


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(LOAN_REQUIRED + LOAN_OPTIONAL), _cells, min_size=1))
def test_any_corrupted_loan_line_names_its_bad_fields(changes):
    values, problems = parse_loan(GOOD_LOAN | changes, today=TODAY)
    assert (values is None) == bool(problems)
    assert set(problems) <= set(LOAN_REQUIRED + LOAN_OPTIONAL)


@pytest.mark.parametrize("name, shown", [
    ("=SUM(A1)", "'=SUM(A1)"), ("+86 村", "'+86 村"), ("-1 组", "'-1 组"), ("@cmd", "'@cmd"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("前进村", "前进村"), ("村=1", "村=1"), ("", ""),
])
def test_a_report_cell_that_starts_like_a_formula_is_kept_as_text(name, shown):
    assert _as_text(name) == shown
