"""Resident ID numbers (居民身份证号码, GB 11643-1999): validation and masking, plain values only.

An ID number is 17 digits and a check character: the first six digits name the region of
registration, the next eight the birth date (YYYYMMDD, which must be a real date), three a
sequence number, and the last the ISO 7064 MOD 11-2 check character (``0``–``9`` or ``X``).
"""

from __future__ import annotations

from datetime import date

from app.taxpayers.domain import mask_middle

#: ISO 7064 MOD 11-2 weights for positions 1–17 (2^(17-i) mod 11).
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: Check character indexed by the weighted sum mod 11.
ID_CHECK_CHARS = "10X98765432"
#: Oldest birth year we accept: older numbers are typing errors, not people.
MIN_BIRTH_YEAR = 1900


class IdNumberError(ValueError):
    """A string that is not a valid resident ID number; the message says why (zh-CN)."""


def id_check_char(first17: str) -> str:
    """The check character for the first 17 digits of an ID number."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS))
    return ID_CHECK_CHARS[total % 11]


def birth_date_of(number: str) -> date:
    """The birth date embedded in positions 7–14; raises ``IdNumberError`` if it is not a real date."""
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdNumberError(f"出生日期 {number[6:14]} 不是有效日期") from None
    return born


def normalize_id_number(raw: str, *, today: date | None = None) -> str:
    """Return the ID number stripped and with an upper-case ``X``, or raise ``IdNumberError``.

    Checks the length, the digits, the embedded birth date (a real date, not in the future,
    not before 1900) and the check character.
    """
    number = (raw or "").strip().upper()
    if len(number) != 18:
        raise IdNumberError(f"应为 18 位，实际 {len(number)} 位")
    if not number[:17].isdigit() or not number[:17].isascii():
        raise IdNumberError("前 17 位必须是数字")
    if not (number[17].isdigit() and number[17].isascii()) and number[17] != "X":
        raise IdNumberError("第 18 位校验码必须是数字或 X")
    born = birth_date_of(number)
    if born.year < MIN_BIRTH_YEAR or (today is not None and born > today):
        raise IdNumberError(f"出生日期 {born.isoformat()} 不在合理范围内")
    expected = id_check_char(number[:17])
    if number[17] != expected:
        raise IdNumberError(f"校验码为 {number[17]}，应为 {expected}")
    return number


def mask_id_number(number: str) -> str:
    """First 6 (region) and last 4 characters visible: ``330283********123X``."""
    return mask_middle(number, head=6, tail=4)
