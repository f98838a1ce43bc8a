"""Synthetic taxpayer populations with valid USCCs and a realistic grade mix."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Iterator

from app.taxpayers.domain import USCC_ALPHABET, uscc_check_char

#: Grade mix close to published evaluations (DOMAIN.md; issue 5): A 10 %, B 55 %, M 20 %, C 10 %, D 5 %.
GRADE_MIX = (("A", 0.10), ("B", 0.55), ("M", 0.20), ("C", 0.10), ("D", 0.05))
REGIONS = ("330203", "330205", "330206", "330211", "330212", "330213", "330281", "330282", "330283", "330225")
INDUSTRIES = ("5191", "3421", "6513", "5436", "5165", "3856", "0190", "5199", "7212", "4710")
SIZES = ("micro", "small", "small", "small", "medium", "large")
TRADES = ("贸易", "科技", "机械", "物流", "建材", "电器", "农业", "服装", "食品", "化工")
#: The columns of a population row, in the order of the grades CSV.
COLUMNS = ("uscc", "name", "grade", "year", "score", "state", "region", "industry", "registered_on", "size")


def uscc_for(n: int) -> str:
    """The n-th synthetic USCC: region 330200, organisation code from n, valid check character."""
    body = ""
    for _ in range(9):
        n, digit = divmod(n, 31)
        body = USCC_ALPHABET[digit] + body
    first17 = "91330200" + body
    return first17 + uscc_check_char(first17)


def population(count: int, *, seed: int = 2026, year: int = 2025) -> Iterator[dict[str, str]]:
    """``count`` taxpayers as CSV-ready dicts; a few thousand are unrated, suspended or blacklisted."""
    rng = random.Random(seed)
    grades = [g for g, _ in GRADE_MIX]
    weights = [w for _, w in GRADE_MIX]
    for n in range(count):
        grade = rng.choices(grades, weights)[0]
        state = "normal"
        roll = rng.random()
        if roll < 0.005:
            grade, state = "", "unrated"
        elif roll < 0.008:
            state = "suspended"
        elif roll < 0.010:
            grade, state = "D", "blacklisted"
        score = {"A": rng.randint(90, 100), "B": rng.randint(70, 89), "C": rng.randint(40, 69)}.get(grade)
        registered = date(2000, 1, 1) + timedelta(days=rng.randint(0, 9500))
        yield {
            "uscc": uscc_for(n + 1), "name": f"宁波{rng.choice(TRADES)}{n + 1}号有限公司", "grade": grade,
            "year": str(year), "score": str(score) if score is not None else "", "state": state,
            "region": rng.choice(REGIONS), "industry": rng.choice(INDUSTRIES),
            "registered_on": registered.isoformat(), "size": rng.choice(SIZES),
        }


def csv_line(row: dict[str, str]) -> str:
    """One population row as a line of the grades CSV (no field holds a comma or a quote)."""
    return ",".join(row[c] for c in COLUMNS)


def grades_csv(lines: list[str]) -> bytes:
    """A grades CSV file: the header and ``lines`` (from ``csv_line``)."""
    return ("\n".join([",".join(COLUMNS), *lines]) + "\n").encode()


def population_csv(count: int, **kwargs: int) -> bytes:
    """The first ``count`` rows of the population as a grades CSV file."""
    return grades_csv([csv_line(row) for row in population(count, **kwargs)])
