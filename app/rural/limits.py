"""Loan limits and interest rates for credit households, each term explained (DOMAIN.md §5).

Default terms (from ``policy.json``): a base by grade (AAA 100,000 · AA 80,000 · A 50,000 yuan)
plus 10% of household assets plus 30% of operating income, capped at 200,000 yuan and rounded
down to whole hundreds. The rate is the LPR plus basis points by the village's star level.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from app.rural.domain import RuralGrade, plain_number
from app.rural.policy import LimitPolicy, RatePolicy

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Term:
    key: str
    label: str
    amount: Decimal  # yuan, signed: a cap or rounding shows as a negative term


@dataclass(frozen=True)
class LimitQuote:
    amount: Decimal
    terms: tuple[Term, ...]

    def terms_json(self) -> list[dict[str, str]]:
        return [{"key": t.key, "label": t.label, "amount": str(t.amount)} for t in self.terms]


def loan_limit(grade: RuralGrade | None, *, assets: Decimal, operating_income: Decimal,
               policy: LimitPolicy) -> LimitQuote:
    """The household's loan limit and its terms; zero with one explaining term when ungraded."""
    if grade is None:
        return LimitQuote(Decimal("0.00"), (Term("not_rated", "非信用户，无授信额度", Decimal("0.00")),))
    base = policy.base_by_grade[grade].quantize(CENT)
    from_assets = (assets * policy.asset_share).quantize(CENT, ROUND_DOWN)
    from_income = (operating_income * policy.operating_income_share).quantize(CENT, ROUND_DOWN)
    terms = [
        Term("base", f"{grade.value} 级信用户基础额度", base),
        Term("assets", f"家庭资产 {_yuan(assets)} 元 × {_pct(policy.asset_share)}", from_assets),
        Term("operating_income", f"经营收入 {_yuan(operating_income)} 元 × {_pct(policy.operating_income_share)}",
             from_income),
    ]
    total = base + from_assets + from_income
    if total > policy.cap:
        terms.append(Term("cap", f"超过上限 {_yuan(policy.cap)} 元，按上限核定", (policy.cap - total).quantize(CENT)))
        total = policy.cap.quantize(CENT)
    step = policy.round_down_to
    rounded = (total / step).to_integral_value(ROUND_DOWN) * step if step > 0 else total
    if rounded != total:
        terms.append(Term("rounding", f"按 {_yuan(step)} 元取整（向下）", (rounded - total).quantize(CENT)))
    return LimitQuote(rounded.quantize(CENT), tuple(terms))


@dataclass(frozen=True)
class RateQuote:
    stars: int
    lpr: Decimal
    bp: Decimal
    rate: Decimal  # percent a year
    explanation: str


def loan_rate(stars: int, policy: RatePolicy) -> RateQuote:
    """LPR plus the basis points of the village's star level (the highest listed level ≤ ``stars``)."""
    level = max((s for s in policy.bp_by_stars if s <= stars), default=0)
    bp = policy.bp_by_stars[level]
    rate = (policy.lpr + bp / 100).quantize(Decimal("0.0001"))
    village = f"{level} 星级信用村" if level else "非星级信用村"
    explanation = (f"{policy.lpr_name} {plain_number(policy.lpr)}%（{policy.lpr_as_of.isoformat()}）"
                   f" + {plain_number(bp)} 个基点（{village}）= {plain_number(rate)}%")
    return RateQuote(level, policy.lpr, bp, rate, explanation)


def _pct(share: Decimal) -> str:
    return f"{plain_number(share * 100)}%"


def _yuan(amount: Decimal) -> str:
    return f"{amount.quantize(CENT):,.2f}".rstrip("0").rstrip(".")
