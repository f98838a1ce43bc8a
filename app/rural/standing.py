"""Village, township and county status from their figures (DOMAIN.md §5), pure rules.

A village is a credit village when every village threshold holds (default: ≥ 70% credit
households, ≥ 85% of borrowing households without arrears, NPL < 5% of the balance, this
year's new NPL < 1%); its star level is the highest listed level whose extra thresholds hold.
Townships and counties roll up from their villages. Every check says what was required, what
was found and the margin (positive: met by that much; negative: missed by that much).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from typing import Any, Iterable

from app.rural.domain import PlaceLevel
from app.rural.policy import RuralPolicy, Threshold

#: Ratios are shown to four places (0.01 percentage point) but compared unrounded.
RATIO = Decimal("0.0001")
CENT = Decimal("0.01")


@dataclass
class Figures:
    """What a bank reports for a place; sums of its villages' figures above village level."""

    households: int = 0
    rated: int = 0  # a confirmed rating in force
    credit_households: int = 0  # … with a grade
    with_limit: int = 0
    total_limits: Decimal = Decimal(0)
    borrowers: int = 0  # households with an outstanding balance
    borrowers_in_arrears: int = 0
    loans: int = 0
    amount_lent: Decimal = Decimal(0)
    balance: Decimal = Decimal(0)
    arrears_balance: Decimal = Decimal(0)
    npl_balance: Decimal = Decimal(0)
    new_npl_balance: Decimal = Decimal(0)  # became non-performing this year

    def add(self, other: "Figures") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v.quantize(CENT)) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Figures":
        kinds = {f.name: f.type for f in fields(cls)}
        return cls(**{k: (Decimal(v) if kinds[k] in ("Decimal", Decimal) else int(v))
                      for k, v in data.items() if k in kinds})

    def shares(self) -> dict[str, Decimal]:
        """The ratios thresholds are checked against (empty denominators explained in ``notes``)."""
        return {
            "credit_household_share": _ratio(self.credit_households, self.households),
            "no_arrears_share": _ratio(self.borrowers - self.borrowers_in_arrears, self.borrowers, empty=Decimal(1)),
            "npl_share": _ratio(self.npl_balance, self.balance),
            "new_npl_share": _ratio(self.new_npl_balance, self.balance),
        }


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    op: str
    required: Decimal
    actual: Decimal
    met: bool
    margin: Decimal  # ≥ 0 when met; how far from the line either way

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "op": self.op, "required": str(self.required),
                "actual": _show(self.actual), "met": self.met, "margin": _show(self.margin)}


def check(threshold: Threshold, actual: Decimal) -> Check:
    """Compare one figure with its threshold; the margin is signed (negative = missed)."""
    req = threshold.value
    met = {">=": actual >= req, ">": actual > req, "<=": actual <= req, "<": actual < req}[threshold.op]
    margin = actual - req if threshold.op in (">=", ">") else req - actual
    return Check(threshold.key, threshold.title, threshold.op, req, actual, met, margin)


@dataclass(frozen=True)
class PlaceStatus:
    level: PlaceLevel
    code: str
    name: str
    credit: bool  # credit village / township / county
    stars: int  # villages only; 0 otherwise or when not a credit village
    checks: tuple[Check, ...]
    figures: Figures
    shares: dict[str, Decimal]
    villages: int = 0  # townships and counties: villages counted
    credit_villages: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level.value, "code": self.code, "name": self.name, "credit": self.credit,
            "stars": self.stars, "checks": [c.to_json() for c in self.checks], "figures": self.figures.to_json(),
            "shares": {k: _show(v) for k, v in self.shares.items()}, "villages": self.villages,
            "credit_villages": self.credit_villages,
        }


def village_status(code: str, name: str, figures: Figures, policy: RuralPolicy) -> PlaceStatus:
    """A village's status: the village thresholds, then the highest star level that holds."""
    shares = figures.shares()
    checks = tuple(check(t, shares[t.key]) for t in policy.thresholds[PlaceLevel.VILLAGE])
    credit = figures.households > 0 and all(c.met for c in checks)
    stars = 0
    if credit:
        stars = next((level.stars for level in policy.village_stars
                      if all(check(t, shares[t.key]).met for t in level.thresholds)), 0)
    return PlaceStatus(PlaceLevel.VILLAGE, code, name, credit, stars, checks, figures, shares)


def rollup_status(level: PlaceLevel, code: str, name: str, villages: Iterable[PlaceStatus],
                  policy: RuralPolicy) -> PlaceStatus:
    """A township's or county's status from its villages' statuses."""
    total = Figures()
    count = credit = 0
    for village in villages:
        total.add(village.figures)
        count += 1
        credit += village.credit
    shares = total.shares() | {"credit_village_share": _ratio(credit, count)}
    checks = tuple(check(t, shares[t.key]) for t in policy.thresholds[level])
    return PlaceStatus(level, code, name, count > 0 and all(c.met for c in checks), 0, checks, total, shares,
                       villages=count, credit_villages=credit)


def _ratio(part: Decimal | int, whole: Decimal | int, *, empty: Decimal = Decimal(0)) -> Decimal:
    if not whole:
        return empty
    return Decimal(part) / Decimal(whole)  # exact enough to judge edges; rounded only for display


def _show(ratio: Decimal) -> str:
    return str(ratio.quantize(RATIO))
