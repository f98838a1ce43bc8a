"""The load-test tools' own logic: the synthetic population, the seeded names, and the benchmark's
arithmetic (connection caps, which round is reported, the verdict), without servers or wrk."""

from __future__ import annotations

import collections

import pytest

from app.taxpayers.domain import normalize_uscc
from loadtests.bench import Measurement, Row, WrkResult, balanced, print_table, verdict
from loadtests.population import GRADE_MIX, population, population_csv
from loadtests.run import _seconds, summary
from loadtests.scratch import print_bench_line, read_bench_line
from loadtests.seed import BANKS, CLERKS_PER_BANK, clerk_usernames

# --- the population (issue 5) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return list(population(30_000))


def test_the_population_has_valid_distinct_usccs(rows):
    usccs = [row["uscc"] for row in rows]
    assert all(normalize_uscc(uscc) == uscc for uscc in usccs)
    assert len(set(usccs)) == len(usccs)


def test_the_grade_mix_is_close_to_a10_b55_m20_c10_d5(rows):
    rated = collections.Counter(row["grade"] for row in rows if row["state"] == "normal")
    total = sum(rated.values())
    for grade, share in GRADE_MIX:
        assert abs(rated[grade] / total - share) < 0.015, (grade, rated[grade] / total)
    assert dict(GRADE_MIX) == {"A": 0.10, "B": 0.55, "M": 0.20, "C": 0.10, "D": 0.05}


def test_about_one_percent_are_unrated_suspended_or_blacklisted(rows):
    states = collections.Counter(row["state"] for row in rows)
    assert {"unrated", "suspended", "blacklisted"} <= set(states)
    special = len(rows) - states["normal"]
    assert 0.008 < special / len(rows) < 0.012  # 2,400–3,600 of the 300,000 a full seed makes
    assert all(row["grade"] == "" for row in rows if row["state"] == "unrated")
    assert all(row["grade"] == "D" for row in rows if row["state"] == "blacklisted")


def test_a_larger_population_only_appends_firms():
    # `seed` grows an existing population and the locustfile derives identities from it.
    assert list(population(500)) == list(population(1000))[:500]


def test_the_population_csv_has_a_header_and_one_line_per_firm():
    lines = population_csv(25).decode().splitlines()
    assert lines[0].startswith("uscc,name,grade,year") and len(lines) == 26
    assert all(line.count(",") == lines[0].count(",") for line in lines)


def test_two_hundred_banks_with_distinct_clerks():
    assert BANKS == 200
    clerks = clerk_usernames()
    assert len(clerks) == len(set(clerks)) == BANKS * CLERKS_PER_BANK


# --- bench.py's arithmetic --------------------------------------------------------------------


@pytest.mark.parametrize("args,connections,cap", [
    (["-w", "2", "--threads", "4"], 16, "8"),
    (["--workers=3", "--threads=4"], 16, "6"),  # 16 ÷ 3 rounded up
    (["-w", "4", "--threads", "8"], 16, "9"),  # never at or below the thread count
])
def test_balanced_caps_each_worker_at_its_share_of_the_connections(args, connections, cap):
    assert balanced(args, connections) == [*args, "--worker-connections", cap]


def test_balanced_reads_workers_and_threads_from_the_environment(monkeypatch):
    monkeypatch.setenv("SHUIMA_WEB_WORKERS", "4")
    monkeypatch.setenv("SHUIMA_WEB_THREADS", "2")
    assert balanced(["-k", "gthread"], 16) == ["-k", "gthread", "--worker-connections", "4"]


def test_balanced_keeps_an_explicit_cap():
    args = ["-w", "2", "--worker-connections", "3"]
    assert balanced(args, 16) is args


def _round(rps: float, p99: float, *, bad: int = 0, cpu: tuple[float, ...] = ()) -> WrkResult:
    return WrkResult(rps=rps, p50_ms=p99 / 2, p99_ms=p99, requests=int(rps * 10), bad=bad, worker_cpu_s=cpu)


def test_a_throughput_row_reports_its_fastest_round_and_counts_bad_answers_over_all():
    m = Measurement([_round(100, 9), _round(300, 30, cpu=(0.9, 0.3)), _round(200, 5, bad=2)])
    assert (m.rps, m.p99_ms, m.split_pct) == (300, 30, 75)
    assert (m.requests, m.bad) == (6000, 2)
    assert m.details().startswith("spread 100–300 req/s;")


def test_a_paced_row_reports_the_median_p99_of_its_rounds():
    m = Measurement([_round(100, 30), _round(110, 10), _round(90, 20)], paced=True)
    assert (m.p99_ms, m.rps, m.reported.p99_ms) == (20, 100, 20)
    assert m.details().startswith("p99 spread 10.0–30.0 ms")


def test_with_an_even_count_of_rounds_the_judged_p99_is_the_shown_rounds():
    m = Measurement([_round(100, 10, cpu=(1.0, 3.0)), _round(100, 20, cpu=(2.0, 2.0))], paced=True)
    assert m.p99_ms == m.reported.p99_ms == 20  # the stricter middle, not the mean 15 of two rounds
    assert m.split_pct == 50


def test_cpu_per_request_is_the_median_of_the_measured_rounds():
    m = Measurement([_round(100, 1, cpu=(1.0,)), _round(100, 1), _round(100, 1, cpu=(3.0,))])
    assert m.rounds[1].cpu_ms_per_request is None and m.rounds[1].split_pct is None
    assert m.cpu_ms_per_request == 2.0  # 1 ms and 3 ms per request; the unmeasured round left out


def test_a_single_round_shows_no_spread():
    assert Measurement([_round(100, 1)]).details() == ""


def test_a_missed_target_fails_the_run_and_is_marked_in_the_table(capsys):
    rows = [Row("hello", "1,000 req/s"), Row("verification", "400 req/s", "hello", 0.4, "≥ 0.5×", False),
            Row("badge", "2 ms", "", 12.0, "≥ 10×", True)]
    print_table(rows)
    assert verdict(rows) == 1
    out, err = capsys.readouterr()
    header, rule, *body = out.splitlines()
    cells = [[cell.strip() for cell in line.split("|")] for line in [header, *body]]
    assert cells[0][:5] == ["what", "measured", "against", "ratio", "target"] and set(rule) <= {"-", "+"}
    assert cells[2][3:] == ["0.40×", "≥ 0.5×", "MISSED"] and cells[3][3:] == ["12.00×", "≥ 10×", "ok"]
    assert cells[1][3:] == ["", "", ""]
    assert "MISSED: verification" in err


def test_a_run_without_missed_targets_succeeds():
    assert verdict([Row("hello", "1 req/s"), Row("badge", "2 ms", ok=True)]) == 0


def test_the_last_bench_line_carries_the_figures(capsys):
    print_bench_line({"delivered_s": 1.5})
    output = "seeded\nBENCH {\"delivered_s\": 9}\n" + capsys.readouterr().out + "done\n"
    assert read_bench_line(output) == {"delivered_s": 1.5}
    assert read_bench_line("no figures\n") is None


@pytest.mark.parametrize("text,seconds", [("60s", 60), ("2m", 120), ("1h2m3s", 3723), ("90", 90)])
def test_locust_run_times_are_read_in_seconds(text, seconds):
    assert _seconds(text) == seconds


def test_the_loadtest_summary_lists_each_endpoint_and_the_aggregate(tmp_path):
    stats = tmp_path / "run_stats.csv"
    header = "Type,Name,Request Count,Failure Count,50%,95%,99%,Requests/s"
    stats.write_text(f"{header}\nGET,/api/v1/me/code,1200,0,12,40,80,20.04\n,Aggregated,1500,3,14,45,90,25.0\n")
    lines = summary(stats).splitlines()
    assert lines[0].split()[:3] == ["endpoint", "reqs", "fails"]
    assert lines[1].split() == ["GET", "/api/v1/me/code", "1200", "0", "12", "40", "80", "20.0"]
    assert lines[2].split() == ["Aggregated", "1500", "3", "14", "45", "90", "25.0"]
