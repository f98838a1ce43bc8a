"""Rural credit rules over plain values (DOMAIN.md §5): household facts, grades, rating
lifecycle, notice period and validity. No Flask, SQLAlchemy or Redis here.

The scorecard lives in ``scorecard.py``, limits and rates in ``limits.py``, the village /
township / county thresholds in ``standing.py``; region-dependent numbers come from
``policy.json`` and the scorecard JSON, never from code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.clock import local_date, local_midnight


class RuralGrade(str, enum.Enum):
    """A credit household's grade; a household below the lowest band is not a credit household."""

    AAA = "AAA"
    AA = "AA"
    A = "A"


class RatingState(str, enum.Enum):
    PROPOSED = "proposed"  # in public notice; objections may be recorded
    CONFIRMED = "confirmed"  # in force until ``valid_until``
    WITHDRAWN = "withdrawn"  # withdrawn by the officer (e.g. after an upheld objection)
    SUPERSEDED = "superseded"  # replaced by a later confirmed rating


class ObjectionOutcome(str, enum.Enum):
    UPHELD = "upheld"  # the rating must be withdrawn and redone
    DISMISSED = "dismissed"  # the rating stands


class Health(str, enum.Enum):
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


class Education(str, enum.Enum):
    COLLEGE = "college"
    HIGH_SCHOOL = "high_school"
    MIDDLE_SCHOOL = "middle_school"
    PRIMARY = "primary"


class Housing(str, enum.Enum):
    BRICK_CONCRETE = "brick_concrete"
    BRICK_WOOD = "brick_wood"
    EARTH_WOOD = "earth_wood"
    NONE = "none"


class ProductionType(str, enum.Enum):
    PLANTING = "planting"
    BREEDING = "breeding"
    PROCESSING = "processing"
    COMMERCE = "commerce"
    MIGRANT_WORK = "migrant_work"
    OTHER = "other"


class CreditRecord(str, enum.Enum):
    CLEAN = "clean"  # a central-bank credit record without blemish
    NONE = "none"  # never borrowed: no record at all
    BAD = "bad"  # a bad record: veto


class Assessment(str, enum.Enum):
    """The village committee's assessment of the household."""

    GOOD = "good"
    AVERAGE = "average"
    POOR = "poor"


class BadRecord(str, enum.Enum):
    ILLEGAL_ACT = "illegal_act"
    UNPAID_FEES = "unpaid_fees"
    LOAN_MISUSE = "loan_misuse"
    GAMBLING = "gambling"


#: Facts that hold money, in yuan.
MONEY_FACTS = ("assets", "annual_income", "operating_income", "debts", "deposits")


@dataclass(frozen=True)
class HouseholdFacts:
    """What a scorecard looks at. Money in yuan (``Decimal``), land in mu."""

    members: int
    labourers: int
    years_resident: int
    health: Health
    education: Education
    land_area: Decimal
    housing: Housing
    assets: Decimal
    annual_income: Decimal
    operating_income: Decimal
    debts: Decimal
    deposits: Decimal
    production_type: ProductionType
    credit_record: CreditRecord
    past_defaults: int
    debt_evasion: bool
    village_assessment: Assessment
    honours: int = 0
    bad_records: frozenset[BadRecord] = field(default_factory=frozenset)

    def value(self, name: str) -> Any:
        """A fact or a derived figure by name (see ``DERIVED``)."""
        if name in DERIVED:
            return DERIVED[name](self)
        return getattr(self, name)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> "HouseholdFacts":
        """Build from already-validated plain values (enums as their values)."""
        values: dict[str, Any] = {}
        for name in _FACT_NAMES:
            if name not in data:
                continue
            raw = data[name]
            enum_type = FACT_ENUMS.get(name)
            if enum_type is not None:
                raw = enum_type(raw.value if isinstance(raw, enum.Enum) else raw)
            elif name == "bad_records":
                raw = frozenset(BadRecord(r) for r in (raw or ()))
            elif name in MONEY_FACTS or name == "land_area":
                raw = raw if isinstance(raw, Decimal) else Decimal(raw)
            values[name] = raw
        return cls(**values)


_FACT_NAMES = tuple(f.name for f in fields(HouseholdFacts))


def _income_per_capita(f: HouseholdFacts) -> Decimal:
    return (f.annual_income / f.members).quantize(Decimal("0.01")) if f.members else f.annual_income


def _debt_ratio(f: HouseholdFacts) -> Decimal:
    if f.assets <= 0:
        return Decimal(1) if f.debts > 0 else Decimal(0)
    return (f.debts / f.assets).quantize(Decimal("0.0001"))


#: Figures derived from the facts that a scorecard may score on.
DERIVED = {"income_per_capita": _income_per_capita, "debt_ratio": _debt_ratio}

FACT_ENUMS: dict[str, type[enum.Enum]] = {
    "health": Health, "education": Education, "housing": Housing, "production_type": ProductionType,
    "credit_record": CreditRecord, "village_assessment": Assessment,
}
NUMERIC_FACTS = ("members", "labourers", "years_resident", "land_area", *MONEY_FACTS, "past_defaults", "honours",
                 *DERIVED)
FLAG_FACTS = ("debt_evasion",)
TAG_FACTS = {"bad_records": BadRecord}


class FactsError(ValueError):
    """A household fact that breaks a rule; ``field`` names it, ``reason`` is zh-CN."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


#: Largest amount of money a fact may hold, yuan (the columns hold 14 digits with 2 decimals).
MAX_MONEY = Decimal(10) ** 11
#: Upper bounds of the counted facts: beyond them a value is a typing error.
MAX_COUNTS = {"members": 50, "years_resident": 150, "past_defaults": 1000, "honours": 100}
MAX_LAND_MU = Decimal(10) ** 7
#: Why a money or land value is refused, the same in the API and the CSV imports (both columns keep 2 decimals).
MONEY_FORMAT_ERROR = "必须是金额（元，最多两位小数）"
LAND_FORMAT_ERROR = "必须是面积（亩，最多两位小数）"


def at_most_places(value: Decimal, places: int) -> bool:
    """Whether a finite ``value`` has at most ``places`` decimals (``1.50`` has two). Bound its size
    first (``copy_abs`` and a comparison are exact): quantizing ``1e1000000`` overflows."""
    return value == value.quantize(Decimal(1).scaleb(-places))


def check_facts(facts: HouseholdFacts) -> None:
    """Raise ``FactsError`` for facts that cannot describe a real household."""
    if facts.members < 1:
        raise FactsError("members", "家庭人口至少 1 人")
    if facts.labourers < 0 or facts.labourers > facts.members:
        raise FactsError("labourers", "劳动力人数应在 0 到家庭人口之间")
    for name, top in MAX_COUNTS.items():
        if not 0 <= getattr(facts, name) <= top:
            raise FactsError(name, f"应在 0 到 {top} 之间")
    for name in MONEY_FACTS:
        if not 0 <= getattr(facts, name) <= MAX_MONEY:
            raise FactsError(name, "应在 0 到 1000 亿元之间")
    if not 0 <= facts.land_area <= MAX_LAND_MU:
        raise FactsError("land_area", "应在 0 到 1000 万亩之间")


# --- notice period and validity -------------------------------------------------------------

def notice_ends_at(proposed_at: datetime, notice_days: int) -> datetime:
    """When a public notice started at ``proposed_at`` ends.

    The notice runs for ``notice_days`` full local calendar days after the day it was posted:
    posted on 25 Nov with 7 days, it runs to the end of 2 Dec and the rating can be
    confirmed from 00:00 on 3 Dec (Asia/Shanghai).
    """
    return local_midnight(local_date(proposed_at) + timedelta(days=notice_days + 1))


def valid_until(confirmed_on: date, years: int = 1) -> date:
    """First day on which a rating confirmed on ``confirmed_on`` no longer holds (one year later)."""
    try:
        return confirmed_on.replace(year=confirmed_on.year + years)
    except ValueError:  # 29 Feb → 1 Mar
        return date(confirmed_on.year + years, 3, 1)


def is_in_force(state: str, valid_to: date | None, today: date) -> bool:
    """True for a confirmed rating whose year has not run out."""
    return state == RatingState.CONFIRMED.value and valid_to is not None and today < valid_to


def household_rated(rating_id: int | None, rated_until: date | None, today: date) -> bool:
    """True when a household's denormalised rating (set only on confirmation) is still in force."""
    return rating_id is not None and is_in_force(RatingState.CONFIRMED.value, rated_until, today)


def plain_number(number: Decimal) -> str:
    """A decimal as people write it: no trailing zeros, no exponent (``90``, ``0.2``, ``267.5``)."""
    return format(number.normalize(), "f")


# --- places ---------------------------------------------------------------------------------

class PlaceLevel(str, enum.Enum):
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"


#: Statistical division code length per level (county 6, township 9, village 12 digits).
CODE_LENGTH = {PlaceLevel.COUNTY: 6, PlaceLevel.TOWNSHIP: 9, PlaceLevel.VILLAGE: 12}
PARENT_LEVEL = {PlaceLevel.TOWNSHIP: PlaceLevel.COUNTY, PlaceLevel.VILLAGE: PlaceLevel.TOWNSHIP}


def place_code_error(level: PlaceLevel, code: str, parent_code: str | None) -> tuple[str, str] | None:
    """(field, reason) if ``code`` cannot be a place of ``level`` under ``parent_code``, else None."""
    if not code.isdigit() or not code.isascii() or len(code) != CODE_LENGTH[level]:
        return "code", f"{level.value} 代码应为 {CODE_LENGTH[level]} 位数字"
    if level is PlaceLevel.COUNTY:
        return ("parent_code", "县级不应有上级") if parent_code else None
    if not parent_code:
        return "parent_code", "乡镇和村必须指定上级"
    if not code.startswith(parent_code) or len(parent_code) != CODE_LENGTH[PARENT_LEVEL[level]]:
        return "parent_code", f"代码 {code} 不属于上级 {parent_code}"
    return None


def county_of(code: str) -> str:
    """The county code a place code belongs to (its first six digits)."""
    return code[:6]


# --- who may do what ------------------------------------------------------------------------

@dataclass(frozen=True)
class Actor:
    """The caller as the rural module sees it: role, county and bank.

    ``role`` is the account role's value (``officer`` or ``rural_admin``). An officer is bound
    to one county and one bank; a rural admin may be bound to a county or, unbound, oversee
    every county (then ``county_code`` is None).
    """

    username: str
    role: str
    county_code: str | None
    bank_id: int | None

    @property
    def is_officer(self) -> bool:
        return self.role == "officer"

    def may_access(self, county_code: str) -> bool:
        """True when the actor's county (or an unbound admin) covers ``county_code``."""
        return self.county_code is None or self.county_code == county_code

    def sees_id_number_of(self, county_code: str, bank_id: int) -> bool:
        """Only the owning officer (same county, the bank that filed it) sees a full ID number and name."""
        return self.is_officer and self.county_code == county_code and self.bank_id == bank_id

    @property
    def full_names_bank(self) -> int | None:
        """The bank whose households (in the actor's county) it sees by full name: an officer's own, else None.

        A search by name may match more than the surname that lists show only there: a prefix
        search over names the actor sees masked would spell them out one character at a time."""
        return self.bank_id if self.is_officer else None
