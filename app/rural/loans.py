"""CSV import of the bank's loan balances per household (amount, balance, days overdue).

Loans are keyed by the bank and its loan number: a re-run with the same figures changes
nothing, new figures update the loan. Each loan belongs to a household of the officer's county
found by its head's ID number; the figures feed the village arrears and NPL shares.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from app.clock import Clock, local_date
from app.csvimport import ImportReport, read_csv_text
from app.db import UnitOfWork, bulk_insert
from app.errors import Forbidden
from app.rural.context import RuralContext
from app.rural.domain import MAX_MONEY, Actor
from app.rural.idcard import IdNumberError, normalize_id_number
from app.rural.importer import Lines, LineParser, Progress, parse_lines, run_import
from app.rural.models import Loan
from app.rural.repository import SqlAlchemyRuralRepository, bulk_update
from app.rural.service import loan_view, require_county

LOAN_REQUIRED = ("loan_no", "id_number", "amount", "balance", "days_overdue", "issued_on")
LOAN_OPTIONAL = ("as_of",)
#: More days overdue than this is a typing error (about 27 years).
MAX_DAYS_OVERDUE = 10_000


def parse_loan(values: dict[str, str], *, today: date) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """One loan line → (column values, {}) or (None, problems)."""
    row = LineParser(values)
    out: dict[str, Any] = {"loan_no": values["loan_no"]}
    if not out["loan_no"] or len(out["loan_no"]) > 64:
        row.fail("loan_no", "必填，不超过 64 个字符")
    try:
        out["id_number"] = normalize_id_number(values["id_number"], today=today)
    except IdNumberError as exc:
        row.fail("id_number", str(exc))
    out["amount"], out["balance"] = row.money("amount"), row.money("balance")
    out["days_overdue"] = row.integer("days_overdue")
    out["issued_on"] = row.day("issued_on")
    out["as_of"] = row.day("as_of", default=today)
    if not row.problems:
        if not 0 < out["amount"] <= MAX_MONEY:
            row.fail("amount", "必须大于 0 且不超过 1000 亿元")
        if not 0 <= out["balance"] <= out["amount"]:
            row.fail("balance", "应在 0 与贷款金额之间")
        if not 0 <= out["days_overdue"] <= MAX_DAYS_OVERDUE:
            row.fail("days_overdue", f"应在 0 到 {MAX_DAYS_OVERDUE} 之间")
        if out["as_of"] > today:
            row.fail("as_of", "不能晚于今天")
        if out["issued_on"] > out["as_of"]:
            row.fail("issued_on", "不能晚于数据日期")
    overdue = out.get("days_overdue", 0) > 0 and not row.problems
    out["overdue_since"] = out["as_of"] - timedelta(days=out["days_overdue"]) if overdue else None
    return (None, row.problems) if row.problems else (out, {})


def import_loans(data: bytes, *, filename: str, actor: Actor, uow: UnitOfWork, clock: Clock, ctx: RuralContext,
                 progress: Progress | None = None) -> ImportReport:
    """Load the bank's loan balances for households of the officer's county; returns the report."""
    if not actor.is_officer or actor.bank_id is None:
        raise Forbidden("只有客户经理可以导入贷款")
    county_code = require_county(actor, None)
    now = clock.now()
    good, errors = parse_lines(read_csv_text(data), LOAN_REQUIRED, LOAN_OPTIONAL, parse_loan, key="loan_no",
                               today=local_date(now))
    return run_import("loans", good, errors, county_code=county_code, actor=actor, filename=filename, now=now,
                      uow=uow, clock=clock, ctx=ctx, progress=progress,
                      apply=lambda chunk, report, touched: _apply_loans(
                          chunk, uow=uow, report=report, county_code=county_code, bank_id=actor.bank_id or 0,
                          now=now, touched=touched))


def _apply_loans(chunk: Lines, *, uow: UnitOfWork, report: ImportReport, county_code: str, bank_id: int,
                 now: datetime, touched: set[str]) -> None:
    repo = SqlAlchemyRuralRepository(uow.session)
    households = repo.household_ids_for(county_code, [v["id_number"] for _l, v in chunk])
    existing = repo.loans_by_number(bank_id, [v["loan_no"] for _l, v in chunk])
    compared = ("household_id", "village_code", "amount", "balance", "days_overdue", "issued_on", "as_of")
    new_rows, updates = [], []
    for line, values in chunk:
        owner = households.get(values["id_number"])
        if owner is None:
            report.errors.append({"line": line, "errors": {"id_number": ["本县没有该身份证号码的农户档案"]}})
            continue
        row = {k: values[k] for k in ("loan_no", "amount", "balance", "days_overdue", "issued_on", "as_of",
                                      "overdue_since")} | {"household_id": owner[0], "village_code": owner[1]}
        before = existing.get(values["loan_no"])
        if before is not None and before.county_code != county_code:
            # the bank's loan numbers are unique across its counties: this one is another county's
            # loan, which this officer may neither see nor change
            report.errors.append({"line": line, "errors": {"loan_no": ["本行该贷款编号已登记在其他县，不能在本县导入"]}})
            continue
        if before is None:
            new_rows.append(row | {"bank_id": bank_id, "county_code": county_code, "updated_at": now})
            report.created += 1
        elif all(getattr(before, k) == row[k] for k in compared):
            report.unchanged += 1
            continue
        else:
            updates.append(row | {"id": before.id, "updated_at": now})
            touched.add(before.village_code)
            report.changed += 1
        touched.add(owner[1])
    uow.session.expunge_all()
    bulk_insert(uow.session, Loan, new_rows)
    bulk_update(uow.session, Loan, updates)


def list_loans(*, actor: Actor, county: str | None, filters: dict[str, Any], offset: int, limit: int,
               uow: UnitOfWork) -> tuple[list[dict[str, Any]], int]:
    """A page of the county's loans (filter by village, household, overdue)."""
    county_code = require_county(actor, county)
    with uow:
        rows, total = SqlAlchemyRuralRepository(uow.session).loans(county_code=county_code, offset=offset,
                                                                   limit=limit, **filters)
        return [loan_view(loan) | {"household_id": loan.household_id, "village_code": loan.village_code}
                for loan in rows], total
