"""Taxpayer identity and credit-grade rules (DOMAIN.md §1–2), over plain values only."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

#: GB 32100-2015 alphabet; a symbol's value is its index (no I, O, S, V, Z).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: Weights for positions 1–17: 3^i mod 31.
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {symbol: index for index, symbol in enumerate(USCC_ALPHABET)}


class UsccError(ValueError):
    """A string that is not a valid Unified Social Credit Code; the message says why."""


def uscc_check_char(first17: str) -> str:
    """The check character (position 18) for the first 17 characters of a USCC."""
    total = sum(_USCC_VALUE[ch] * weight for ch, weight in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def normalize_uscc(raw: str) -> str:
    """Return the USCC upper-cased and stripped, or raise ``UsccError`` naming the defect."""
    code = (raw or "").strip().upper()
    if len(code) != 18:
        raise UsccError(f"must be 18 characters, got {len(code)}")
    bad = sorted({ch for ch in code if ch not in _USCC_VALUE})
    if bad:
        raise UsccError(f"contains characters outside the GB 32100 alphabet: {''.join(bad)}")
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise UsccError(f"check character is {code[17]}, expected {expected}")
    return code


def mask_middle(text: str, *, head: int, tail: int) -> str:
    """``head`` first and ``tail`` last characters visible, the rest starred; all starred when that
    would show the whole text."""
    if len(text) <= head + tail:
        return "*" * len(text)
    return text[:head] + "*" * (len(text) - head - tail) + text[-tail:]


def mask_uscc(code: str) -> str:
    """First 4 and last 2 characters visible: ``9133************1X``."""
    return mask_middle(code, head=4, tail=2)


#: Legal-form endings kept visible when a company name is masked, longest first.
_LEGAL_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "合作社", "个体工商户", "公司", "厂", "店")


def mask_company_name(name: str) -> str:
    """Keep the first two characters and the legal form; star the rest.

    ``宁波海曙云帆贸易有限公司`` → ``宁波******有限公司``. A name of four characters or fewer
    keeps only its first character. DOMAIN.md fixes the mask for persons only; for firms we
    hide the distinctive part (the trade name) and keep what a clerk needs to recognise the
    kind of entity.
    """
    name = (name or "").strip()
    if len(name) <= 4:
        return name[:1] + "*" * max(len(name) - 1, 0)
    suffix = next((form for form in _LEGAL_FORMS if name.endswith(form) and len(name) - len(form) > 2), "")
    core = name[: len(name) - len(suffix)]
    return core[:2] + "*" * (len(core) - 2) + suffix


def mask_person_name(name: str) -> str:
    """Surname plus one star per remaining character (``张三丰`` → ``张**``)."""
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 0)


class Grade(str, enum.Enum):
    """Annual tax-credit grade."""

    A = "A"
    B = "B"
    M = "M"
    C = "C"
    D = "D"


class State(str, enum.Enum):
    """Overlay on the grade. ``normal`` means the grade stands as rated."""

    NORMAL = "normal"
    UNRATED = "unrated"  # not yet rated (no grade on record)
    SUSPENDED = "suspended"  # not rated this period: investigation, review or litigation
    BLACKLISTED = "blacklisted"  # serious tax-violation list: red whatever the score


class SizeClass(str, enum.Enum):
    MICRO = "micro"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


def grade_for_score(score: Decimal) -> Grade:
    """Score bands: A ≥ 90 · B 70–<90 · C 40–<70 · D < 40 (M is decided by facts, not score)."""
    if score >= 90:
        return Grade.A
    if score >= 70:
        return Grade.B
    if score >= 40:
        return Grade.C
    return Grade.D


class GradeRuleError(ValueError):
    """A grade/state/score combination that cannot be recorded; ``field`` names the culprit."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_grade_record(grade: Grade | None, state: State, score: Decimal | None, year: int, *, today: date) -> None:
    """Raise ``GradeRuleError`` unless the combination is one a tax bureau could publish."""
    if not 2014 <= year <= today.year:
        raise GradeRuleError("year", f"must be between 2014 and {today.year}")
    if state is State.UNRATED:
        if grade is not None:
            raise GradeRuleError("grade", "must be empty when the state is unrated")
    elif grade is None and state is not State.SUSPENDED:
        raise GradeRuleError("grade", "is required unless the state is unrated or suspended")
    if score is not None:
        if not Decimal(0) <= score <= Decimal(100):
            raise GradeRuleError("score", "must be between 0 and 100")
        if grade in {Grade.A, Grade.B, Grade.C} and grade_for_score(score) is not grade:
            raise GradeRuleError("score", f"{score} falls in band {grade_for_score(score).value}, not {grade.value}")


@dataclass(frozen=True)
class GradeStatus:
    """The current standing of one taxpayer: what the code and the counter show."""

    uscc: str
    name: str
    grade: Grade | None
    state: State
    year: int | None
    changed_at: datetime | None
    #: The row's ``status_version``: a later write of the same taxpayer carries a higher one.
    version: int = 0

    def to_cache(self) -> dict[str, object]:
        return {
            "uscc": self.uscc,
            "name": self.name,
            "grade": self.grade.value if self.grade else None,
            "state": self.state.value,
            "year": self.year,
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
            "v": self.version,
        }

    @classmethod
    def from_cache(cls, data: dict[str, object]) -> "GradeStatus":
        changed = data.get("changed_at")
        return cls(
            uscc=str(data["uscc"]),
            name=str(data["name"]),
            grade=Grade(data["grade"]) if data.get("grade") else None,
            state=State(data["state"]),
            year=int(data["year"]) if data.get("year") is not None else None,  # type: ignore[arg-type]
            changed_at=datetime.fromisoformat(str(changed)) if changed else None,
            version=int(data.get("v") or 0),  # type: ignore[call-overload]
        )


@dataclass(frozen=True)
class GradeChanged:
    """Published after a taxpayer's current grade or state changed (dynamic management)."""

    uscc: str
    old_grade: str | None
    old_state: str | None
    new_grade: str | None
    new_state: str
    year: int
    reason: str
    changed_by: str
    changed_at: datetime
    type: str = field(default="GradeChanged", init=False)


@dataclass(frozen=True)
class GradesImported:
    """Published after a bulk import; subscribers read the changed rows by ``import_id``."""

    import_id: int
    created: int
    changed: int
    changed_by: str
    changed_at: datetime
    type: str = field(default="GradesImported", init=False)
