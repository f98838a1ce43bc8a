"""Household and loan imports against the real database; village figures cached in Redis."""

from __future__ import annotations

import dataclasses
from datetime import date
import json
import time


import pytest

from app.rural.context import rural
from app.rural.domain import Actor
from app.rural.importer import import_households
from app.rural.loans import import_loans
from app.rural.statuses import FiguresCache, county_standing
from app.services import services
from tests.rural_factories import HOUSEHOLD_HEADER, RuralFactory, csv_line, make_id_number

OFFICER = Actor("officer-x", "officer", "330283", None)


@pytest.fixture
def setup(app, factory):
    rf = RuralFactory(factory)
    villages = rf.county(townships=2, villages=2)
    officer = rf.officer()
    from app.accounts.repository import SqlAlchemyAccountRepository

    with app.app_context(), services().uow() as uow:
        bank_id = SqlAlchemyAccountRepository(uow.session).bank_by_code("B1").id
    return {"villages": villages, "actor": Actor(officer.username, "officer", "330283", bank_id)}


def households(app, setup, text: str, progress=None, chunk_rows: int | None = None):
    with app.app_context():
        s = services()
        ctx = rural()
        if chunk_rows:
            ctx = dataclasses.replace(ctx, import_chunk_rows=chunk_rows)
        return import_households(text.encode("utf-8-sig"), filename="h.csv", actor=setup["actor"], uow=s.uow(),
                                 clock=s.clock, ctx=ctx, progress=progress)


def loans(app, setup, text: str):
    with app.app_context():
        s = services()
        return import_loans(text.encode(), filename="l.csv", actor=setup["actor"], uow=s.uow(), clock=s.clock,
                            ctx=rural())


def standing(app):
    with app.app_context():
        s = services()
        ctx = rural()
        return county_standing("330283", uow=s.uow(), cache=ctx.figures, policy=ctx.policy, clock=s.clock)


def test_bad_lines_are_reported_by_line_and_good_lines_filed(app, setup):
    v = setup["villages"][0]
    good, dup = make_id_number(), make_id_number()
    text = "\n".join([
        HOUSEHOLD_HEADER,
        csv_line(v, "王一", good),
        csv_line(v, "王二", good[:-1] + ("0" if good[-1] != "0" else "1")),      # 3: check character
        csv_line(v, "王三", make_id_number(), {"labourers": 7}),                   # 4: more labourers than members
        csv_line("330283009009", "王四", make_id_number()),                        # 5: no such village
        csv_line(v, "", make_id_number(), {"health": "great", "assets": "abc"}),  # 6: three problems
        "",
        csv_line(v, "王六", dup),
        csv_line(v, "王七", dup),                                                  # 9: duplicate of line 8
    ]) + "\n"
    report = households(app, setup, text)
    assert (report.rows, report.created, report.rejected) == (7, 2, 5)
    by_line = {e["line"]: e["errors"] for e in report.errors}
    assert list(by_line) == [3, 4, 5, 6, 9]
    assert "校验码" in by_line[3]["id_number"][0]
    assert set(by_line[4]) == {"labourers"}
    assert set(by_line[6]) == {"head_name", "health", "assets"}
    assert by_line[9] == {"id_number": ["与第 8 行重复"]}


def test_running_the_same_file_again_changes_nothing_and_a_changed_line_is_updated(app, setup):
    v = setup["villages"]
    ids = [make_id_number() for _ in range(3)]
    text = HOUSEHOLD_HEADER + "\n" + "\n".join(csv_line(v[0], "李", n) for n in ids) + "\n"
    assert households(app, setup, text).created == 3
    again = households(app, setup, text)
    assert (again.created, again.changed, again.unchanged) == (0, 0, 3)
    moved = text.replace(f"{v[0]},李,{ids[1]}", f"{v[1]},李,{ids[1]}").replace(f"{ids[2]},4,", f"{ids[2]},5,")
    third = households(app, setup, moved)
    assert (third.changed, third.unchanged) == (2, 1)
    figures = standing(app).villages
    assert (figures[v[0]].figures.households, figures[v[1]].figures.households) == (2, 1)


def test_a_header_without_the_household_columns_is_a_422_on_the_file(app, setup):
    from app.errors import InvalidInput

    with pytest.raises(InvalidInput) as info:
        households(app, setup, "village_code,head_name\n")
    assert info.value.errors["file"] == ["header lacks required column(s): id_number, members, labourers, "
                                         "years_resident, health, education, land_area, assets, annual_income, "
                                         "operating_income, debts, deposits, credit_record, past_defaults, "
                                         "debt_evasion, village_assessment"]


def test_progress_is_reported_per_chunk_and_ends_at_the_total(app, setup):
    v = setup["villages"][0]
    text = HOUSEHOLD_HEADER + "\n" + "\n".join(csv_line(v, "赵", make_id_number()) for _ in range(12)) + "\n"
    seen = []
    households(app, setup, text, progress=lambda done, total: seen.append((done, total)), chunk_rows=5)
    assert seen == [(0, 12), (5, 12), (10, 12), (12, 12)]


def test_ten_thousand_households_import_in_seconds(app, setup):
    v = setup["villages"]
    lines = [csv_line(v[i % 4], "钱", make_id_number(500_000 + i)) for i in range(10_000)]
    started = time.perf_counter()
    report = households(app, setup, HOUSEHOLD_HEADER + "\n" + "\n".join(lines) + "\n")
    elapsed = time.perf_counter() - started
    assert report.created == 10_000 and report.rejected == 0
    assert elapsed < 10, f"10,000 rows took {elapsed:.1f} s"


def test_loans_feed_arrears_npl_and_this_years_new_npl(app, setup, clock):
    v = setup["villages"][0]
    ids = [make_id_number() for _ in range(4)]
    households(app, setup, HOUSEHOLD_HEADER + "\n" + "\n".join(csv_line(v, "孙", n) for n in ids) + "\n")
    as_of = "2026-11-20"
    text = "\n".join([
        "loan_no,id_number,amount,balance,days_overdue,issued_on,as_of",
        f"A1,{ids[0]},100000,80000,0,2026-01-10,{as_of}",
        f"A2,{ids[1]},50000,10000,30,2025-06-01,{as_of}",     # in arrears, not yet NPL
        f"A3,{ids[2]},50000,6000,120,2025-03-01,{as_of}",     # NPL since Sept 2026: new this year
        f"A4,{ids[3]},50000,4000,500,2024-01-01,{as_of}",     # NPL since 2025: not new
        f"A5,{ids[0]},20000,0,0,2025-01-01,{as_of}",          # repaid: no balance
        f"A6,{ids[0]},20000,30000,0,2025-01-01,{as_of}",      # balance above amount
        f"A7,{make_id_number()},20000,1000,0,2025-01-01,{as_of}",  # nobody filed with this number
    ]) + "\n"
    report = loans(app, setup, text)
    assert (report.created, report.rejected) == (5, 2)
    assert [e["line"] for e in report.errors] == [7, 8]
    f = standing(app).villages[v].figures
    assert (f.borrowers, f.borrowers_in_arrears, f.loans) == (4, 3, 5)
    assert (f.balance, f.arrears_balance, f.npl_balance, f.new_npl_balance) == (100000, 20000, 10000, 6000)
    assert loans(app, setup, text).unchanged == 5


def test_figures_are_cached_per_county_and_refreshed_by_each_change(app, setup, redis_client):
    v = setup["villages"][0]
    households(app, setup, HOUSEHOLD_HEADER + "\n" + csv_line(v, "周", make_id_number()) + "\n")
    key = FiguresCache.key("330283")
    assert key == "{rural:330283}:figures"
    cached = json.loads(redis_client.hget(key, v))
    assert cached["households"] == 1 and redis_client.hget(key, "__as_of") == b"2026-11-25"
    households(app, setup, HOUSEHOLD_HEADER + "\n" + csv_line(v, "吴", make_id_number()) + "\n")
    assert json.loads(redis_client.hget(key, v))["households"] == 2


def test_a_new_day_recomputes_from_the_database(app, setup, clock, redis_client):
    v = setup["villages"][0]
    households(app, setup, HOUSEHOLD_HEADER + "\n" + csv_line(v, "郑", make_id_number()) + "\n")
    redis_client.hset(FiguresCache.key("330283"), v, json.dumps({"households": 999}))
    assert standing(app).villages[v].figures.households == 999  # the cache is trusted for the day…
    clock.advance(days=1)
    assert standing(app).villages[v].figures.households == 1  # …and rebuilt on the next


def test_statuses_are_computed_from_the_database_when_redis_is_down(app, setup):
    v = setup["villages"][0]
    households(app, setup, HOUSEHOLD_HEADER + "\n" + csv_line(v, "冯", make_id_number()) + "\n")
    with app.app_context():
        s = services()
        ctx = rural()
        dead = FiguresCache(__import__("app.extensions", fromlist=["make_redis_client"]).make_redis_client(
            "redis://127.0.0.1:1/0"))
        result = county_standing("330283", uow=s.uow(), cache=dead, policy=ctx.policy, clock=s.clock)
    assert result.villages[v].figures.households == 1


@pytest.fixture
def redis_client(redis_url):
    import redis

    return redis.Redis.from_url(redis_url)




def test_an_older_recompute_never_overwrites_a_newer_one(app, setup, redis_client):
    from app.rural.standing import Figures

    with app.app_context():
        cache = rural().figures
    day = date(2026, 11, 25)
    slow = cache.begin("330283", changed=True)  # a writer starts, then another change commits
    fast = cache.begin("330283", changed=True)
    assert cache.store("330283", day, {"v": Figures(households=2)}, replace=True, generation=fast) is True
    assert cache.store("330283", day, {"v": Figures(households=1)}, replace=True, generation=slow) is False
    reader = cache.begin("330283", changed=False)
    assert reader == fast
    assert cache.load("330283", day)["v"].households == 2


def test_policy_default_scorecard_and_cache_lifetime_come_from_the_configuration(app, factory, setup, tmp_path,
                                                                                 redis_client):
    from app.rural.policy import DEFAULT_POLICY
    from app.rural.scorecard_parse import DEFAULT_SCORECARD

    policy = json.loads(DEFAULT_POLICY.read_text(encoding="utf-8")) | {"notice_days": 3}
    card = json.loads(DEFAULT_SCORECARD.read_text(encoding="utf-8")) | {"name": "ningbo-2026"}
    for name, body in (("policy.json", policy), ("card.json", card)):
        (tmp_path / name).write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    app.config.update(RURAL_POLICY_FILE=str(tmp_path / "policy.json"), RURAL_SCORECARD_FILE=str(tmp_path / "card.json"),
                      RURAL_STATUS_CACHE_TTL_SECONDS=600)
    app.extensions.pop("shuima.rural", None)  # built on first use: make sure it is built from this configuration
    officer = RuralFactory(factory).officer()
    assert factory.client.get("/api/v1/rural/policy", headers=officer).json["notice_days"] == 3
    household = RuralFactory(factory).household(officer, setup["villages"][0])
    rating = factory.client.post(f"/api/v1/rural/households/{household['id']}/ratings", headers=officer).json
    assert rating["scorecard"] == "ningbo-2026" and rating["notice_ends_at"] == "2026-11-29T00:00:00+08:00"
    assert 0 < redis_client.ttl(FiguresCache.key("330283")) <= 600


def test_money_with_an_exponent_past_the_decimal_range_is_a_bad_line_and_the_good_lines_are_kept(app, setup):
    v = setup["villages"][0]
    good, bad = make_id_number(), make_id_number()
    report = households(app, setup, "\n".join([
        HOUSEHOLD_HEADER, csv_line(v, "王五", good), csv_line(v, "赵六", bad, {"assets": "1e1000000"}),
        csv_line(v, "钱七", make_id_number(), {"land_area": "1e-1000000"})]) + "\n")
    assert (report.created, report.rejected) == (1, 2)
    assert report.errors == [{"line": 3, "errors": {"assets": ["必须是金额（元，最多两位小数）"]}},
                             {"line": 4, "errors": {"land_area": ["必须是面积（亩，最多两位小数）"]}}]
    report = loans(app, setup, "\n".join([
        "loan_no,id_number,amount,balance,days_overdue,issued_on",
        f"L1,{good},1000,500,0,2025-01-01", f"L2,{good},1e1000000,500,0,2025-01-01",
        f"L3,{good},1000,-1e1000000,0,2025-01-01"]) + "\n")
    assert (report.created, report.rejected) == (1, 2)
    assert [(e["line"], list(e["errors"])) for e in report.errors] == [(3, ["amount"]), (4, ["balance"])]


def test_a_household_moved_by_an_import_takes_its_loans_and_their_npl_along(app, setup):
    old, new = setup["villages"][:2]
    number = make_id_number()
    households(app, setup, HOUSEHOLD_HEADER + "\n" + csv_line(old, "郑", number) + "\n")
    header = "loan_no,id_number,amount,balance,days_overdue,issued_on"
    loans(app, setup, f"{header}\nN1,{number},50000,40000,200,2025-01-01\n")
    assert standing(app).villages[old].figures.npl_balance == 40000
    assert households(app, setup, HOUSEHOLD_HEADER + "\n" + csv_line(new, "郑", number) + "\n").changed == 1
    villages = standing(app).villages
    assert (villages[old].figures.npl_balance, villages[new].figures.npl_balance) == (0, 40000)
    assert (villages[old].figures.borrowers, villages[new].figures.borrowers) == (0, 1)


@pytest.mark.parametrize("second_call", ["rate all", "one household"])
def test_proposals_made_while_a_rate_all_run_is_under_way_wait_for_it(app, factory, monkeypatch, second_call):
    """A second "rate all" (a double click, a second officer) or a single proposal for one of its
    households, made while the first run has read "nobody in notice": each household is proposed once."""
    import threading

    from app.errors import Conflict
    from app.rural.context import actor_for_username
    from app.rural.ratings import propose_rating, propose_ratings
    from app.rural.repository import SqlAlchemyRuralRepository

    rf = RuralFactory(factory)
    village = rf.county()[0]
    officer = rf.officer()
    households = [rf.household(officer, village) for _ in range(2)]
    with app.app_context():
        s, ctx = services(), rural()
        actor = actor_for_username(officer.username, s.uow())
    first_has_read, second_has_read, let_first_go = threading.Event(), threading.Event(), threading.Event()
    real_in_notice, real_open = SqlAlchemyRuralRepository.households_in_notice, SqlAlchemyRuralRepository.open_proposal

    def reads(real):  # type: ignore[no-untyped-def]
        def read(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            found = real(self, *args, **kwargs)
            if threading.current_thread().name == "first":  # read "nobody in notice", not committed yet
                first_has_read.set()
                let_first_go.wait(30)
            else:
                second_has_read.set()
            return found
        return read

    monkeypatch.setattr(SqlAlchemyRuralRepository, "households_in_notice", reads(real_in_notice))
    monkeypatch.setattr(SqlAlchemyRuralRepository, "open_proposal", reads(real_open))
    results: dict[str, object] = {}

    def run() -> None:
        name = threading.current_thread().name
        with app.app_context():
            if name == "second" and second_call == "one household":
                try:
                    results[name] = propose_rating(households[0]["id"], actor=actor, uow=s.uow(), clock=s.clock,
                                                   ctx=ctx)["state"]
                except Conflict:
                    results[name] = "conflict"
            else:
                results[name] = propose_ratings(None, actor=actor, uow=s.uow(), clock=s.clock, ctx=ctx)

    first = threading.Thread(target=run, name="first")
    first.start()
    assert first_has_read.wait(30)
    second = threading.Thread(target=run, name="second")
    second.start()
    second_has_read.wait(2)  # without a county lock it reads at once; with it, it waits for the first run
    let_first_go.set()
    first.join(60)
    second.join(60)
    second_result = {"proposed": 0, "skipped": 2} if second_call == "rate all" else "conflict"
    assert results == {"first": {"proposed": 2, "skipped": 0}, "second": second_result}
