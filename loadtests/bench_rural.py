"""Rate a whole county end to end: 100 villages, 50,000 households, all households then all places.

    .venv/bin/python -m loadtests.bench_rural [--villages 100] [--households 50000] [--database-url URL]

Stages (each timed, wall clock): file the households from one CSV, propose a rating for every
household (scored in Python a batch at a time, inserted in bulk), let the public notice run out
(the clock is moved 8 days), confirm every rating with its loan limit, load the bank's loans,
then rate every village, township and the county from scratch and write the report and chart.
Uses an embedded Valkey unless REDIS_URL is set, and a fresh SQLite file unless --database-url
is given (a PostgreSQL one has its public schema dropped first, then built by the migrations: use a
scratch database; a SQLite one is migrated as it is). The last
line of the output, ``BENCH {json}``, carries the figures for ``loadtests.bench``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, datetime, timedelta, timezone

from loadtests.scratch import print_bench_line, scratch

NEWLINE = b"\n"
HEADER = ("village_code,head_name,id_number,members,labourers,years_resident,health,education,land_area,housing,"
          "assets,annual_income,operating_income,debts,deposits,production_type,credit_record,past_defaults,"
          "debt_evasion,village_assessment,honours,bad_records")


class BenchClock:
    def __init__(self, start: datetime):
        self.current = start

    def now(self) -> datetime:
        return self.current


def households_csv(villages: list[str], count: int, seed: int = 2020,
                   region: str = "330283") -> tuple[bytes, list[str]]:
    """``count`` plausible households spread over ``villages``; returns the CSV and the ID numbers.

    Six villages in ten are well-off (most households rate A or better), the rest mixed, so the
    county has credit villages of every star level and villages that miss. ID numbers start with
    ``region`` (use a different one per county: an ID number is filed in one county only).
    Household ``n`` lives in village ``n % len(villages)`` and its line depends only on the lines
    before it, so a larger ``count`` with the same villages only appends lines.
    """
    from app.rural.idcard import id_check_char

    rng = random.Random(seed)
    lines, ids = [HEADER], []
    born = date(1950, 1, 1)
    for n in range(count):
        first17 = f"{region}{born + timedelta(days=n // 900):%Y%m%d}{n % 900:03d}"
        number = first17 + id_check_char(first17)
        ids.append(number)
        village = n % len(villages)
        well_off = village % 10 < 6 and rng.random() < 0.75 + 0.025 * (village % 10)
        members = rng.choice((3, 4, 4, 5) if well_off else (1, 2, 3, 4, 5, 6, 7))
        income = rng.choice((70000, 120000, 250000) if well_off else (20000, 40000, 70000, 120000))
        lines.append(",".join(map(str, (
            villages[village], "农户" + str(n), number, members, rng.randint(2 if well_off else 0, members),
            rng.choice((12, 30) if well_off else (2, 6, 12, 30)),
            rng.choice(("good",) if well_off else ("good", "fair", "poor")),
            rng.choice(("middle_school", "high_school", "college") if well_off else ("primary", "middle_school")),
            rng.choice((12, 25) if well_off else (2, 6, 12)), "brick_concrete",
            rng.choice((300000, 700000) if well_off else (30000, 80000, 150000)), income,
            income * rng.choice((0, 1, 3)) // 10, rng.choice((0, 10000) if well_off else (0, 50000, 150000)),
            rng.choice((60000, 150000) if well_off else (2000, 20000, 60000)),
            rng.choice(("planting", "breeding", "commerce")),
            "clean" if well_off else rng.choice(("clean",) * 6 + ("none", "none", "bad")),
            0 if well_off else rng.choice((0, 0, 1, 2)), int(not well_off and rng.random() < 0.02),
            "good" if well_off else rng.choice(("good", "average", "poor")), rng.choice((0, 0, 0, 1, 2)),
            "" if well_off else rng.choice(("",) * 6 + ("unpaid_fees", "gambling", "illegal_act"))))))
    return ("\n".join(lines) + "\n").encode(), ids


def loans_csv(ids: list[str], share: float, as_of: date, villages: int, seed: int = 2021) -> bytes:
    """Loans for ``share`` of the households; arrears and NPLs mostly in the mixed villages."""
    rng = random.Random(seed)
    lines = ["loan_no,id_number,amount,balance,days_overdue,issued_on,as_of"]
    for n, number in enumerate(ids):
        if rng.random() >= share:
            continue
        amount = rng.choice((20000, 50000, 80000, 100000))
        well_off = (n % villages) % 10 < 6
        overdue = rng.choice((0,) * 80 + (15, 400) if well_off else (0,) * 30 + (15, 60, 120, 400))
        lines.append(f"L{n:07d},{number},{amount},{amount * rng.randint(1, 10) // 10},{overdue},"
                     f"{as_of - timedelta(days=rng.randint(30, 700)):%Y-%m-%d},{as_of:%Y-%m-%d}")
    return ("\n".join(lines) + "\n").encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--villages", type=int, default=100)
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--loan-share", type=float, default=0.4, help="share of households with a loan")
    parser.add_argument("--database-url")
    parser.add_argument("--chart", help="also write the county chart (PNG) to this path")
    args = parser.parse_args(argv)

    from app.accounts.domain import Role
    from app.accounts.service import create_user
    from app.rural.chart import render_county_chart
    from app.rural.context import actor_for_username, rural
    from app.rural.domain import Actor, PlaceLevel
    from app.rural.importer import import_households
    from app.rural.loans import import_loans
    from app.rural.ratings import confirm_due_ratings, propose_ratings
    from app.rural.reports import place_report, report_csv
    from app.rural.service import create_place
    from app.rural.statuses import county_standing
    from app.services import services

    clock = BenchClock(datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc))
    timings: list[tuple[str, float, str]] = []

    def stage(label: str, started: float, note: str = "") -> None:
        timings.append((label, time.perf_counter() - started, note))
        print(f"  {label:<34} {timings[-1][1]:6.1f} s  {note}", file=sys.stderr)

    with scratch("shuima-rural-bench-", args.database_url, reset=True) as sc:
        app = sc.create_app(clock, PASSWORD_TIME_COST=1, PASSWORD_MEMORY_COST=1024)
        with app.app_context():
            s, ctx = services(), rural()
            admin = Actor("bench", "rural_admin", None, None)
            create_place("330283", "奉化区", PlaceLevel.COUNTY, None, actor=admin, uow=s.uow())
            villages = []
            townships = max(1, args.villages // 10)
            for t in range(townships):
                town = f"330283{t + 1:03d}"
                create_place(town, f"第{t + 1}镇", PlaceLevel.TOWNSHIP, "330283", actor=admin, uow=s.uow())
                for v in range(args.villages // townships):
                    villages.append(f"{town}{v + 1:03d}")
                    create_place(villages[-1], f"{t + 1}镇{v + 1}村", PlaceLevel.VILLAGE, town, actor=admin, uow=s.uow())
            create_user("bench-officer", "bench-password", role=Role.OFFICER, bank_code="BENCH", county_code="330283",
                        uow=s.uow(), passwords=s.passwords)
            officer = actor_for_username("bench-officer", s.uow())
            data, ids = households_csv(villages, args.households)
            loans = loans_csv(ids, args.loan_share, date(2026, 11, 30), len(villages))
            print(f"{len(villages)} villages, {len(ids):,} households ({len(data) / 1e6:.1f} MB CSV), "
                  f"{loans.count(NEWLINE) - 1:,} loans; database {sc.backend}", file=sys.stderr)

            total = time.perf_counter()
            started = time.perf_counter()
            report = import_households(data, filename="bench.csv", actor=officer, uow=s.uow(), clock=s.clock, ctx=ctx)
            stage("file households (CSV import)", started, f"{report.created:,} created, {report.rejected} rejected")
            started = time.perf_counter()
            proposed = propose_ratings(None, actor=officer, uow=s.uow(), clock=s.clock, ctx=ctx)
            stage("rate every household (proposals)", started, f"{proposed['proposed']:,} proposed")
            clock.current += timedelta(days=8)
            started = time.perf_counter()
            confirmed = confirm_due_ratings(None, actor=officer, uow=s.uow(), clock=s.clock, ctx=ctx)
            stage("confirm after notice, with limits", started, f"{confirmed['confirmed']:,} confirmed")
            started = time.perf_counter()
            loaded = import_loans(loans, filename="loans.csv", actor=officer, uow=s.uow(), clock=s.clock, ctx=ctx)
            stage("load the bank's loans (CSV)", started, f"{loaded.created:,} created, {loaded.rejected} rejected")
            started = time.perf_counter()
            ctx.figures.forget("330283")
            standing = county_standing("330283", uow=s.uow(), cache=ctx.figures, policy=ctx.policy, clock=s.clock)
            credit = sum(v.credit for v in standing.villages.values())
            stars = sum(v.stars for v in standing.villages.values())
            stage("rate all villages/townships/county", started,
                  f"{credit} credit villages ({stars} stars), {sum(t.credit for t in standing.townships.values())} "
                  f"credit townships, county credit={standing.county.credit}")
            started = time.perf_counter()
            body = report_csv(place_report("330283", actor=officer, uow=s.uow(), clock=s.clock, ctx=ctx))
            threshold = ctx.policy.thresholds[PlaceLevel.VILLAGE][0].value
            png = render_county_chart(standing.county, list(standing.villages.values()), threshold=threshold,
                                      as_of=standing.as_of.isoformat())
            stage("county report (CSV) and chart (PNG)", started, f"{len(body):,} + {len(png):,} bytes")
            if args.chart:
                with open(args.chart, "wb") as handle:
                    handle.write(png)
            elapsed = time.perf_counter() - total
            f = standing.county.figures
            print(f"end to end {elapsed:.1f} s for {len(ids):,} households in {len(villages)} villages: "
                  f"{f.credit_households:,} credit households, {f.with_limit:,} limits totalling "
                  f"{f.total_limits:,.0f} yuan; balance {f.balance:,.0f}, NPL {f.npl_balance:,.0f}")
            print_bench_line({"backend": sc.backend, "households": len(ids), "villages": len(villages),
                              "end_to_end_s": round(elapsed, 2),
                              "stages": {label: round(seconds, 2) for label, seconds, _ in timings},
                              "credit_households": f.credit_households})
    return 0


if __name__ == "__main__":
    sys.exit(main())
