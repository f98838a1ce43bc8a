"""USCC rules (GB 32100-2015) and masking, without any I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.taxpayers.domain import (
    USCC_ALPHABET, UsccError, mask_company_name, mask_person_name, mask_uscc, normalize_uscc, uscc_check_char,
)

bodies = st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17)


def test_published_example_code_is_valid():
    assert normalize_uscc("91350100M000100Y43") == "91350100M000100Y43"


def test_lowercase_and_spaces_are_normalized():
    assert normalize_uscc("  91350100m000100y43 ") == "91350100M000100Y43"


@given(bodies)
def test_every_body_with_its_check_character_validates(body):
    assert normalize_uscc(body + uscc_check_char(body)) == body + uscc_check_char(body)


@given(bodies, st.integers(min_value=0, max_value=16), st.sampled_from(USCC_ALPHABET))
def test_any_single_character_change_is_caught(body, position, replacement):
    code = body + uscc_check_char(body)
    changed = code[:position] + replacement + code[position + 1:]
    if changed != code:
        with pytest.raises(UsccError, match="check character"):
            normalize_uscc(changed)


@pytest.mark.parametrize("raw,reason", [
    ("9135010", "must be 18 characters, got 7"),
    ("91350100M000100Y4I", "outside the GB 32100 alphabet: I"),
    ("91350100M000100Y44", "check character is 4, expected 3"),
    ("", "must be 18 characters, got 0"),
])
def test_bad_codes_say_what_is_wrong(raw, reason):
    with pytest.raises(UsccError, match=reason):
        normalize_uscc(raw)


def test_uscc_mask_shows_first_four_and_last_two():
    assert mask_uscc("91350100M000100Y43") == "9135************43"


@pytest.mark.parametrize("name,masked", [
    ("宁波海曙云帆贸易有限公司", "宁波******有限公司"),
    ("浙江吉利控股集团股份有限公司", "浙江******股份有限公司"),
    ("宁波银行", "宁***"),
    ("余姚市润禾农业专业合作社", "余姚*******合作社"),
])
def test_company_names_keep_region_and_legal_form_only(name, masked):
    assert mask_company_name(name) == masked


def test_person_names_keep_the_surname():
    assert mask_person_name("张三丰") == "张**" and mask_person_name("李") == "李"
