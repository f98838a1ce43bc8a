"""The `shuima rural ...` commands and the demo county."""

from __future__ import annotations

from pathlib import Path

from app.cli import cli
from tests.rural_factories import HOUSEHOLD_HEADER, RuralFactory, csv_line, make_id_number


def run(app, *args: str, input: str | None = None):
    return app.test_cli_runner().invoke(cli, list(args), input=input)


def test_officer_account_is_created_with_bank_and_county_and_rural_admin_with_county_only(app):
    ok = run(app, "users", "create", "--role", "officer", "--username", "o1", "--bank", "B9", "--county", "330283",
             "--password-stdin", input="password-1\n")
    assert ok.exit_code == 0, ok.output
    admin = run(app, "users", "create", "--role", "rural_admin", "--username", "ra1", "--county", "330283",
                "--password-stdin", input="password-1\n")
    assert admin.exit_code == 0, admin.output
    refused = run(app, "users", "create", "--role", "rural_admin", "--username", "ra2", "--bank", "B9",
                  "--password-stdin", input="password-1\n")
    assert refused.exit_code != 0 and "not bound to a bank" in refused.output


def test_households_and_loans_import_then_rate_from_the_command_line(app, factory, clock, tmp_path: Path):
    rf = RuralFactory(factory)
    villages = rf.county()
    officer = rf.officer()
    ids = [make_id_number() for _ in range(3)]
    households = tmp_path / "h.csv"
    households.write_text("\n".join([HOUSEHOLD_HEADER, *(csv_line(villages[0], "李四", n) for n in ids),
                                     csv_line(villages[0], "王五", "123")]) + "\n", encoding="utf-8")
    result = run(app, "rural", "households", "import", str(households), "--officer", officer.username)
    assert result.exit_code == 0, result.output
    assert "line 5: id_number: 应为 18 位，实际 3 位" in result.output
    assert "4 rows, 3 created, 0 changed, 0 unchanged, 1 rejected" in result.output

    loans = tmp_path / "l.csv"
    loans.write_text(f"loan_no,id_number,amount,balance,days_overdue,issued_on\nL1,{ids[0]},50000,30000,0,2026-03-01\n",
                     encoding="utf-8")
    result = run(app, "rural", "loans", "import", str(loans), "--officer", officer.username)
    assert result.exit_code == 0 and "1 created" in result.output, result.output

    assert "3 proposed" in run(app, "rural", "rate", "--officer", officer.username).output
    clock.advance(days=8)
    assert "3 confirmed" in run(app, "rural", "rate", "--officer", officer.username, "--confirm").output


def test_seed_demo_builds_the_demo_county_and_a_rerun_changes_nothing(app):
    first = run(app, "seed-demo")
    assert first.exit_code == 0, first.output
    assert "rural demo county 330283 奉化区: 7 places created, households 40 created" in first.output
    assert "rural-admin" in first.output
    again = run(app, "seed-demo")
    assert again.exit_code == 0, again.output
    assert ("0 places created, households 0 created / 40 unchanged, 0 ratings proposed, 0 confirmed, "
            "loans 0 created / 14 unchanged") in again.output
