"""Resident ID numbers (GB 11643): check character, birth date, masking."""

from __future__ import annotations

from datetime import date

import pytest

from app.rural.idcard import IdNumberError, id_check_char, mask_id_number, normalize_id_number

#: The specimen number printed in GB 11643-1999 itself.
SPECIMEN = "11010519491231002X"


def test_specimen_number_from_the_standard_is_valid():
    assert id_check_char(SPECIMEN[:17]) == "X"
    assert normalize_id_number(SPECIMEN) == SPECIMEN


def test_lower_case_x_and_spaces_are_normalised():
    assert normalize_id_number(" 11010519491231002x ") == SPECIMEN


@pytest.mark.parametrize("raw, reason", [
    ("110105194912310021", "校验码"),
    ("11010519491231002", "18 位"),
    ("1101051949123100XX", "前 17 位"),
    ("11010519490230002X", "出生日期"),  # 30 Feb
    ("11010518991231002X", "合理范围"),  # before 1900
])
def test_bad_numbers_are_rejected_with_the_reason(raw, reason):
    first17 = raw[:17]
    if reason in ("出生日期", "合理范围") and first17.isdigit():
        raw = first17 + id_check_char(first17)  # a correct check character: the date alone is wrong
    with pytest.raises(IdNumberError, match=reason):
        normalize_id_number(raw)


def test_birth_date_in_the_future_is_rejected():
    first17 = "33028320300101001"
    with pytest.raises(IdNumberError, match="合理范围"):
        normalize_id_number(first17 + id_check_char(first17), today=date(2026, 11, 25))


def test_masking_keeps_region_and_last_four_only():
    assert mask_id_number(SPECIMEN) == "110105********002X"


from hypothesis import given, strategies as st  # noqa: E402

_bodies = st.builds(
    lambda region, born, seq: f"{region:06d}{born:%Y%m%d}{seq:03d}",
    st.integers(110000, 659999), st.dates(date(1900, 1, 1), date(2025, 12, 31)), st.integers(0, 999))


@given(_bodies)
def test_any_real_birth_date_with_its_check_character_validates(first17):
    assert normalize_id_number(first17 + id_check_char(first17), today=date(2026, 1, 1)).startswith(first17)


@given(_bodies, st.integers(0, 16), st.integers(1, 9))
def test_mod_11_2_catches_every_single_digit_error(first17, position, shift):
    number = first17 + id_check_char(first17)
    wrong = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1:]
    with pytest.raises(IdNumberError):
        normalize_id_number(wrong, today=date(2026, 1, 1))
