"""Demo rural county for ``shuima seed-demo``: 奉化区 (330283) with two townships, four villages
and a few dozen households filed, rated (notice posted eight days earlier, then confirmed)
and with some loans. Idempotent: places are created when missing and everything else goes
through the ordinary importers and bulk use cases, which change nothing on a re-run.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any, Iterator

from app.errors import Conflict
from app.rural.context import actor_for_username, rural
from app.rural.domain import Actor, PlaceLevel
from app.rural.idcard import id_check_char
from app.rural.importer import import_households
from app.rural.loans import import_loans
from app.rural.ratings import confirm_due_ratings, propose_ratings
from app.rural.service import create_place

COUNTY = ("330283", "奉化区")
TOWNSHIPS = [("330283101", "溪口镇", ["西畈村", "岩头村"]), ("330283102", "莼湖镇", ["桐照村", "栖凤村"])]
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林罗高"
GIVEN = ["建国", "秀英", "国强", "丽华", "志明", "海燕", "春生", "桂兰", "永康", "美玲"]
HEADER = ("village_code,head_name,id_number,members,labourers,years_resident,health,education,land_area,housing,"
          "assets,annual_income,operating_income,debts,deposits,production_type,credit_record,past_defaults,"
          "debt_evasion,village_assessment,honours,bad_records")


class _Earlier:
    """The service clock moved back: the demo's notices were posted before today."""

    def __init__(self, clock: Any, days: int):
        self.clock, self.delta = clock, timedelta(days=days)

    def now(self):  # type: ignore[no-untyped-def]
        return self.clock.now() - self.delta


def demo_households_csv(villages: list[str], per_village: int = 10) -> str:
    rng = random.Random(330283)
    lines = [HEADER]
    for v_index, village in enumerate(villages):
        for n in range(per_village):
            first17 = f"330283{date(1960, 1, 1) + timedelta(days=rng.randrange(15000)):%Y%m%d}{v_index}{n:02d}"
            members = rng.choice([2, 3, 4, 4, 5, 6])
            assets = rng.choice([40000, 80000, 150000, 300000, 600000])
            income = rng.choice([25000, 45000, 80000, 150000, 250000])
            record = rng.choice(["clean"] * 8 + ["none", "bad"])
            bad = rng.choice([""] * 8 + ["unpaid_fees", "gambling"])
            lines.append(",".join(map(str, [
                village, SURNAMES[rng.randrange(len(SURNAMES))] + rng.choice(GIVEN), first17 + id_check_char(first17),
                members, rng.randint(1, members), rng.choice([3, 8, 15, 30]), rng.choice(["good", "good", "fair"]),
                rng.choice(["primary", "middle_school", "high_school"]), rng.choice([3, 8, 12, 25]),
                "brick_concrete", assets, income, income // 2, rng.choice([0, 10000, 60000]),
                rng.choice([5000, 30000, 80000]), rng.choice(["planting", "breeding", "commerce"]), record,
                rng.choice([0, 0, 0, 1]), 0, rng.choice(["good", "average"]), rng.choice([0, 0, 1]), bad])))
    return "\n".join(lines) + "\n"


def demo_loans_csv(households_csv: str, today: date) -> str:
    rng = random.Random(283)
    lines = ["loan_no,id_number,amount,balance,days_overdue,issued_on,as_of"]
    for n, row in enumerate(households_csv.splitlines()[1::3]):
        id_number = row.split(",")[2]
        amount = rng.choice([20000, 50000, 80000])
        lines.append(f"DEMO-{n:04d},{id_number},{amount},{amount // 2},{rng.choice([0, 0, 0, 0, 45])},"
                     f"{today - timedelta(days=200):%Y-%m-%d},{today:%Y-%m-%d}")
    return "\n".join(lines) + "\n"


def seed_rural_demo(s: Any, *, officer: str = "officer") -> Iterator[str]:
    """Seed the demo county for the demo ``officer`` (bank NBCB-DEMO, county 330283)."""
    ctx = rural()
    setup = Actor("seed", "rural_admin", None, None)
    villages: list[str] = []
    places = [(COUNTY[0], COUNTY[1], PlaceLevel.COUNTY, None)]
    for t_code, t_name, names in TOWNSHIPS:
        places.append((t_code, t_name, PlaceLevel.TOWNSHIP, COUNTY[0]))
        for i, name in enumerate(names, start=1):
            villages.append(f"{t_code}{i:03d}")
            places.append((villages[-1], name, PlaceLevel.VILLAGE, t_code))
    created = 0
    for code, name, level, parent in places:
        try:
            create_place(code, name, level, parent, actor=setup, uow=s.uow())
            created += 1
        except Conflict:
            pass
    actor = actor_for_username(officer, s.uow())
    households_csv = demo_households_csv(villages)
    report = import_households(households_csv.encode(), filename="demo-households.csv", actor=actor, uow=s.uow(),
                               clock=s.clock, ctx=ctx)
    proposed = propose_ratings(None, actor=actor, uow=s.uow(), clock=_Earlier(s.clock, 8), ctx=ctx)
    confirmed = confirm_due_ratings(None, actor=actor, uow=s.uow(), clock=s.clock, ctx=ctx)
    loans = import_loans(demo_loans_csv(households_csv, s.clock.now().date() - timedelta(days=1)).encode(),
                         filename="demo-loans.csv", actor=actor, uow=s.uow(), clock=s.clock, ctx=ctx)
    yield (f"rural demo county {COUNTY[0]} {COUNTY[1]}: {created} places created, households {report.created} created "
           f"/ {report.unchanged} unchanged, {proposed['proposed']} ratings proposed, {confirmed['confirmed']} "
           f"confirmed, loans {loans.created} created / {loans.unchanged} unchanged")
