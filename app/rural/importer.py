"""CSV import of households (建档), and the plumbing the loans import (``loans.py``) shares.

Same contract as the grade importer (``app/taxpayers/importer.py``): UTF-8 with or without
BOM and a header; each line is checked on its own and bad lines are reported with their
line number and reasons; good lines are applied in chunks that each commit; a line that
matches what is stored changes nothing, so re-running a file is a no-op; ``progress(done,
total)`` is called after each chunk. Statuses of the touched villages are refreshed at the end.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, DecimalException
from typing import Any, Callable

from sqlalchemy import select

from app.clock import Clock, local_date
from app.csvimport import ImportReport, csv_rows, read_csv_text
from app.db import UnitOfWork, bulk_insert
from app.errors import Forbidden
from app.rural.context import RuralContext
from app.rural.domain import (
    FACT_ENUMS, LAND_FORMAT_ERROR, MAX_MONEY, MONEY_FACTS, MONEY_FORMAT_ERROR, Actor, BadRecord, FactsError,
    HouseholdFacts, PlaceLevel, at_most_places, check_facts,
)
from app.rural.idcard import IdNumberError, normalize_id_number
from app.rural.models import Household, Place, RuralImport
from app.rural.repository import SqlAlchemyRuralRepository, bulk_update
from app.rural.service import FACT_COLUMNS, fact_columns, require_county
from app.rural.statuses import refresh_figures

Progress = Callable[[int, int], None]

HOUSEHOLD_REQUIRED = ("village_code", "head_name", "id_number", "members", "labourers", "years_resident", "health",
                      "education", "land_area", "assets", "annual_income", "operating_income", "debts", "deposits",
                      "credit_record", "past_defaults", "debt_evasion", "village_assessment")
HOUSEHOLD_OPTIONAL = ("housing", "production_type", "honours", "bad_records")
TRUE_WORDS = {"1", "true", "yes", "y", "是"}
FALSE_WORDS = {"0", "false", "no", "n", "否", ""}


EARLIEST_DAY = date(1900, 1, 1)
"""No date in a bank's file is older; year 1 minus a few overdue days would leave the calendar (a 500)."""


class LineParser:
    """Collects one line's problems as ``{field: [reasons]}``."""

    def __init__(self, values: dict[str, str]):
        self.values = values
        self.problems: dict[str, list[str]] = {}

    def fail(self, name: str, reason: str) -> None:
        self.problems.setdefault(name, []).append(reason)

    def integer(self, name: str, default: int | None = None) -> int:
        raw = self.values.get(name, "")
        if raw == "" and default is not None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.fail(name, "必须是整数")
            return 0
        if abs(value) > 2**31 - 1:  # an INTEGER column's range
            self.fail(name, "数值过大")
            return 0
        return value

    def money(self, name: str, error: str = MONEY_FORMAT_ERROR) -> Decimal:
        """An amount of at most ``MAX_MONEY`` with two decimals at most (land in mu too, with its ``error``)."""
        try:
            value = Decimal(self.values.get(name, "").replace(",", ""))
            # copy_abs is exact: abs() of 1e1000000 overflows the decimal context
            if not value.is_finite() or value.copy_abs() > MAX_MONEY or not at_most_places(value, 2):
                raise DecimalException
            return value
        except DecimalException:  # InvalidOperation (not a number) and any other trap alike
            self.fail(name, error)
            return Decimal(0)

    def day(self, name: str, default: date | None = None) -> date:
        raw = self.values.get(name, "")
        if raw == "" and default is not None:
            return default
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            self.fail(name, "必须是日期 YYYY-MM-DD")
            return date(1970, 1, 1)
        if day < EARLIEST_DAY:  # also keeps "as_of − days overdue" inside the calendar
            self.fail(name, f"不能早于 {EARLIEST_DAY.isoformat()}")
            return date(1970, 1, 1)
        return day


def parse_household(values: dict[str, str], *, today: date) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """One household line → (column values, {}) or (None, problems)."""
    row = LineParser(values)
    out: dict[str, Any] = {"village_code": values["village_code"], "head_name": values["head_name"]}
    if not out["head_name"]:
        row.fail("head_name", "必填")
    elif len(out["head_name"]) > 64:
        row.fail("head_name", "不超过 64 个字符")
    try:
        out["id_number"] = normalize_id_number(values["id_number"], today=today)
    except IdNumberError as exc:
        row.fail("id_number", str(exc))
    for name in ("members", "labourers", "years_resident", "past_defaults"):
        out[name] = row.integer(name)
    out["honours"] = row.integer("honours", default=0)
    for name in MONEY_FACTS:
        out[name] = row.money(name)
    out["land_area"] = row.money("land_area", LAND_FORMAT_ERROR)
    defaults = {"housing": "brick_concrete", "production_type": "planting"}
    for name, kind in FACT_ENUMS.items():
        raw = values.get(name, "").lower() or defaults.get(name, "")
        if raw not in {e.value for e in kind}:
            row.fail(name, f"应为 {'、'.join(e.value for e in kind)} 之一")
        out[name] = raw
    flag = values["debt_evasion"].lower()
    if flag not in TRUE_WORDS | FALSE_WORDS:
        row.fail("debt_evasion", "应为 是/否（1/0）")
    out["debt_evasion"] = flag in TRUE_WORDS
    tags = [t.strip().lower() for t in values.get("bad_records", "").replace("|", ";").split(";") if t.strip()]
    unknown = [t for t in tags if t not in {b.value for b in BadRecord}]
    if unknown:
        row.fail("bad_records", f"未知记录：{', '.join(unknown)}")
    out["bad_records"] = tags
    if not row.problems:
        try:
            facts = HouseholdFacts.from_mapping(out)
            check_facts(facts)
            out.update(fact_columns(facts))
        except FactsError as exc:
            row.fail(exc.field, exc.reason)
    return (None, row.problems) if row.problems else (out, {})


def import_households(data: bytes, *, filename: str, actor: Actor, county: str | None = None, uow: UnitOfWork,
                      clock: Clock, ctx: RuralContext, progress: Progress | None = None) -> ImportReport:
    """File households from CSV into villages of the actor's county; returns the report.

    Raises ``Forbidden`` unless the actor is an officer (households are filed by a bank).
    """
    if not actor.is_officer or actor.bank_id is None:
        raise Forbidden("只有客户经理可以为农户建档")
    county_code = require_county(actor, county)
    now = clock.now()
    text = read_csv_text(data)
    with uow:
        villages = set(uow.session.scalars(select(Place.code).where(
            Place.county_code == county_code, Place.level == PlaceLevel.VILLAGE.value)))

    def in_county(parsed: dict[str, Any]) -> dict[str, list[str]]:
        if parsed["village_code"] in villages:
            return {}
        return {"village_code": [f"本县没有代码为 {parsed['village_code']} 的村"]}

    good, errors = parse_lines(text, HOUSEHOLD_REQUIRED, HOUSEHOLD_OPTIONAL, parse_household, key="id_number",
                               today=local_date(now), check=in_county)
    return run_import("households", good, errors, county_code=county_code, actor=actor, filename=filename, now=now,
                      uow=uow, clock=clock, ctx=ctx, progress=progress,
                      apply=lambda chunk, report, touched: _apply_households(
                          chunk, uow=uow, report=report, county_code=county_code, actor=actor, now=now,
                          touched=touched))


def _apply_households(chunk: Lines, *, uow: UnitOfWork, report: ImportReport,
                      county_code: str, actor: Actor, now: datetime, touched: set[str]) -> None:
    repo = SqlAlchemyRuralRepository(uow.session)
    existing = repo.existing_by_id_number([values["id_number"] for _line, values in chunk])
    new_rows, updates = [], []
    moved: dict[int, str] = {}  # household id → its new village
    compared = ("village_code", "head_name", *FACT_COLUMNS)
    for line, values in chunk:
        before = existing.get(values["id_number"])
        row = {name: values[name] for name in compared} | {"id_number": values["id_number"]}
        if before is None:
            new_rows.append(row | {"county_code": county_code, "bank_id": actor.bank_id, "filed_by": actor.username,
                                   "created_at": now, "updated_at": now})
            touched.add(values["village_code"])
            report.created += 1
        elif before.county_code != county_code:
            report.errors.append({"line": line, "errors": {"id_number": ["已在其他县建档"]}})
        elif all(getattr(before, name) == row[name] for name in compared):
            report.unchanged += 1
        else:
            updates.append(row | {"id": before.id, "updated_at": now})
            touched.update({before.village_code, values["village_code"]})
            if before.village_code != values["village_code"]:
                moved[before.id] = values["village_code"]
            report.changed += 1
    uow.session.expunge_all()
    bulk_insert(uow.session, Household, new_rows)
    bulk_update(uow.session, Household, updates)
    touched.update(repo.move_loans(moved))  # a household that moves takes its loans along


# --- shared plumbing (the loans import uses it too) -------------------------------------------

Lines = list[tuple[int, dict[str, Any]]]
LineParse = Callable[..., tuple[dict[str, Any] | None, dict[str, list[str]]]]


def parse_lines(text: str, required: tuple[str, ...], optional: tuple[str, ...], parse: LineParse, *, key: str,
                today: date, check: Callable[[dict[str, Any]], dict[str, list[str]]] | None = None,
                ) -> tuple[Lines, list[dict[str, Any]]]:
    """Parse every line with ``parse``: (good lines, ``{"line", "errors"}`` per bad line).

    A parsed line then goes through ``check`` (problems that need more than the line itself), and
    a line repeating an earlier line's ``key`` is refused naming that line.
    """
    good: Lines = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, values in csv_rows(text, required, optional):
        parsed, problems = parse(values, today=today)
        if parsed is not None and check is not None:
            problems = check(parsed)
        if parsed is not None and not problems and parsed[key] in seen:
            problems = {key: [f"与第 {seen[parsed[key]]} 行重复"]}
        if problems or parsed is None:
            errors.append({"line": line, "errors": problems})
            continue
        seen[parsed[key]] = line
        good.append((line, parsed))
    return good, errors


def run_import(kind: str, good: Lines, errors: list[dict[str, Any]], *, county_code: str, actor: Actor,
               filename: str, now: datetime, uow: UnitOfWork, clock: Clock, ctx: RuralContext,
               progress: Progress | None, apply: Callable[[Lines, ImportReport, set[str]], None]) -> ImportReport:
    """Record the run, ``apply(chunk, report, touched villages)`` chunk by chunk (each commits), finish the
    record, then refresh the figures of the villages the import touched."""
    report = _start_report(uow, kind, county_code, actor, filename, now, rows=len(good) + len(errors), errors=errors)
    touched: set[str] = set()
    done = report.rejected
    if progress:
        progress(done, report.rows)
    for start in range(0, len(good), ctx.import_chunk_rows):
        chunk = good[start:start + ctx.import_chunk_rows]
        with uow:
            apply(chunk, report, touched)
            uow.commit()
        done += len(chunk)
        if progress:
            progress(done, report.rows)
    _finish_report(uow, report, clock)
    if touched:
        refresh_figures(county_code, villages=touched, uow=uow, cache=ctx.figures, policy=ctx.policy, clock=clock)
    return report


def _start_report(uow: UnitOfWork, kind: str, county_code: str, actor: Actor, filename: str, now: datetime, *,
                  rows: int, errors: list[dict[str, Any]]) -> ImportReport:
    with uow:
        record = RuralImport(kind=kind, county_code=county_code, bank_id=actor.bank_id,
                             filename=filename.replace("\x00", "")[:255], imported_by=actor.username, started_at=now)
        uow.session.add(record)
        uow.commit()
        return ImportReport(import_id=record.id, rows=rows, errors=errors)


def _finish_report(uow: UnitOfWork, report: ImportReport, clock: Clock) -> None:
    report.errors.sort(key=lambda e: e["line"])
    with uow:
        row = uow.session.get(RuralImport, report.import_id)
        assert row is not None
        row.finished_at = clock.now()
        row.rows, row.created, row.changed = report.rows, report.created, report.changed
        row.unchanged, row.rejected, row.errors = report.unchanged, report.rejected, report.errors
        uow.commit()
