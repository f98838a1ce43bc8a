"""The yearly bulk load of grades from CSV.

Each line is checked on its own; bad lines are reported with their line number and reasons
and good lines are applied, in chunks that each commit (so an interrupted run keeps what it
did, and running it again finishes the job). A line whose data already match the taxpayer's
current record changes nothing, so re-running a file is a no-op. A line for an older year
than the taxpayer's current grade is reported as skipped rather than overriding a newer grade,
and so is a line for the same year when the taxpayer's grade was last set by an individual
change (``PUT /taxpayers/<uscc>/grade``: a direct D, a review, a repair): the file is the annual
evaluation that change already superseded, so re-running it must not undo the change. Such
lines are also listed in ``held`` (line, USCC, reason), for the staff to review one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterator

from sqlalchemy import bindparam, func, select, update

from app.clock import Clock
from app.csvimport import ImportReport, csv_rows, read_csv_text
from app.db import UnitOfWork, bulk_insert
from app.taxpayers.cache import StatusCache
from app.taxpayers.domain import (
    Grade, GradesImported, GradeRuleError, GradeStatus, SizeClass, State, UsccError, check_grade_record,
    normalize_uscc,
)
from app.taxpayers.models import GradeImport, GradeRecord, Taxpayer

REQUIRED_COLUMNS = ("uscc", "name", "grade", "year")
OPTIONAL_COLUMNS = ("score", "state", "region", "industry", "registered_on", "size")

Progress = Callable[[int, int], None]


@dataclass
class ImportLine:
    """One valid CSV line, parsed."""

    line: int
    uscc: str
    name: str
    grade: Grade | None
    year: int
    score: Decimal | None
    state: State
    region: str | None
    industry: str | None
    registered_on: date | None
    size: str | None


@dataclass
class GradeImportReport(ImportReport):
    """Also counts lines skipped because they are older than the taxpayer's current grade or
    would undo an individual change made during the year; the latter are listed in ``held``."""

    skipped: int = 0
    held: list[dict[str, Any]] = field(default_factory=list)


HELD_REASON = "grade changed individually during the year after the annual evaluation; change it the same way"
CHANGED_MEANWHILE = "changed by someone else while this import ran; run the file again to compare with the new record"


def parse_lines(text: str, *, today: date) -> tuple[list[ImportLine], list[dict[str, Any]]]:
    """Split a CSV into valid lines and per-line errors. Raises ``InvalidInput`` for a bad header."""
    good: list[ImportLine] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, values in csv_rows(text, REQUIRED_COLUMNS, OPTIONAL_COLUMNS):
        parsed, problems = _parse_line(number, values, today=today)
        if parsed is not None and parsed.uscc in seen:
            problems = {"uscc": [f"duplicate of line {seen[parsed.uscc]}"]}
        if problems:
            errors.append({"line": number, "uscc": values.get("uscc", ""), "errors": problems})
            continue
        assert parsed is not None
        seen[parsed.uscc] = number
        good.append(parsed)
    return good, errors


def _parse_line(number: int, v: dict[str, str], *, today: date) -> tuple[ImportLine | None, dict[str, list[str]]]:
    problems: dict[str, list[str]] = {}

    def fail(name: str, reason: str) -> None:
        problems.setdefault(name, []).append(reason)

    uscc = ""
    try:
        uscc = normalize_uscc(v["uscc"])
    except UsccError as exc:
        fail("uscc", str(exc))
    name = v["name"]
    if not name:
        fail("name", "is required")
    elif len(name) > 200:
        fail("name", "is longer than 200 characters")
    for column, longest in (("region", 12), ("industry", 8)):  # the widths of their columns
        if len(v.get(column) or "") > longest:
            fail(column, f"is longer than {longest} characters")
    state = State.NORMAL
    if v.get("state"):
        try:
            state = State(v["state"].lower())
        except ValueError:
            fail("state", "must be one of normal, unrated, suspended, blacklisted")
    grade = None
    if v["grade"]:
        try:
            grade = Grade(v["grade"].upper())
        except ValueError:
            fail("grade", "must be one of A, B, M, C, D")
    year = 0
    try:
        year = int(v["year"])
    except ValueError:
        fail("year", "must be a whole number such as 2025")
    score = None
    if v.get("score"):
        try:
            # to the cent before the band check, as the column stores it and as PUT /grade does:
            # 89.999 is stored as 90.00, which band B cannot hold
            score = Decimal(v["score"]).quantize(Decimal("0.01"))
            if not score.is_finite():
                raise InvalidOperation
        except InvalidOperation:  # not a number, infinite, NaN, or too large to hold cents
            fail("score", "must be a number")
            score = None
    registered_on = None
    if v.get("registered_on"):
        try:
            registered_on = date.fromisoformat(v["registered_on"])
        except ValueError:
            fail("registered_on", "must be a date as YYYY-MM-DD")
        else:
            if registered_on > today:
                fail("registered_on", "must not be in the future")
    size = v.get("size") or None
    if size is not None and size.lower() not in {s.value for s in SizeClass}:
        fail("size", "must be one of micro, small, medium, large")
    if not problems:
        try:
            check_grade_record(grade, state, score, year, today=today)
        except GradeRuleError as exc:
            fail(exc.field, exc.reason)
    if problems:
        return None, problems
    return ImportLine(
        line=number, uscc=uscc, name=name, grade=grade, year=year, score=score, state=state,
        region=v.get("region") or None, industry=v.get("industry") or None,
        registered_on=registered_on, size=size.lower() if size else None,
    ), {}


def _chunks(items: list[ImportLine], size: int) -> Iterator[list[ImportLine]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def import_grades(
    data: bytes,
    *,
    filename: str,
    imported_by: str,
    uow: UnitOfWork,
    cache: StatusCache,
    clock: Clock,
    chunk_rows: int = 5000,
    progress: Progress | None = None,
) -> GradeImportReport:
    """Load a grades CSV; returns the report. Raises ``InvalidInput`` only for a bad file."""
    now = clock.now()
    lines, errors = parse_lines(read_csv_text(data), today=now.date())
    with uow:
        record = GradeImport(filename=filename.replace("\x00", "")[:255], imported_by=imported_by, started_at=now)
        uow.session.add(record)
        uow.commit()
        report = GradeImportReport(import_id=record.id, rows=len(lines) + len(errors), errors=errors)
    done = len(errors)
    if progress:
        progress(done, report.rows)
    for chunk in _chunks(lines, chunk_rows):
        with uow:
            statuses = _apply_chunk(chunk, uow=uow, report=report, import_id=report.import_id, by=imported_by, now=now)
            uow.commit()
        cache.put_many(statuses)
        done += len(chunk)
        if progress:
            progress(done, report.rows)
    with uow:
        row = uow.session.get(GradeImport, report.import_id)
        assert row is not None
        row.finished_at = clock.now()
        row.rows, row.created, row.changed = report.rows, report.created, report.changed
        row.unchanged, row.rejected, row.errors = report.unchanged + report.skipped, report.rejected, report.errors
        if report.created or report.changed:
            uow.collect(GradesImported(
                import_id=report.import_id, created=report.created, changed=report.changed,
                changed_by=imported_by, changed_at=now,
            ))
        uow.commit()
    return report


_FIELDS = (
    Taxpayer.uscc, Taxpayer.name, Taxpayer.region_code, Taxpayer.industry_code, Taxpayer.registered_on,
    Taxpayer.size_class, Taxpayer.grade, Taxpayer.state, Taxpayer.score, Taxpayer.grade_year,
    Taxpayer.grade_changed_at, Taxpayer.status_version,
)


def _grade_differs(line: ImportLine, before: Any) -> bool:
    """Whether the line's grade, state, score or year differ from the taxpayer's current ones."""
    grade = line.grade.value if line.grade else None
    return (grade, line.state.value, _dec(line.score), line.year) != (
        before.grade, before.state, _dec(before.score), before.grade_year)


def _last_set_by_hand(session: Any, usccs: list[str]) -> set[str]:
    """Those of ``usccs`` whose latest grade record is an individual change, not an import or the seed."""
    if not usccs:
        return set()
    # the latest by id, the order they were written in (an import stamps all its records with its start time)
    latest = select(func.max(GradeRecord.id)).where(GradeRecord.uscc.in_(usccs)).group_by(GradeRecord.uscc)
    return set(session.scalars(select(GradeRecord.uscc).where(GradeRecord.id.in_(latest),
                                                              GradeRecord.source == "manual")))


def _apply_chunk(
    chunk: list[ImportLine], *, uow: UnitOfWork, report: GradeImportReport, import_id: int, by: str, now: datetime,
) -> list[GradeStatus]:
    session = uow.session
    current = {row.uscc: row for row in session.execute(select(*_FIELDS).where(Taxpayer.uscc.in_([l.uscc for l in chunk])))}
    changed_by_hand = _last_set_by_hand(session, [  # asked only for lines that would change a same-year grade
        line.uscc for line in chunk
        if (before := current.get(line.uscc)) is not None and line.year == before.grade_year
        and _grade_differs(line, before)])
    new_taxpayers: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    statuses: list[GradeStatus] = []
    lines_of: dict[str, int] = {}
    for line in chunk:
        grade = line.grade.value if line.grade else None
        before = current.get(line.uscc)
        if before is None:
            new_taxpayers.append({
                "uscc": line.uscc, "name": line.name, "region_code": line.region, "industry_code": line.industry,
                "registered_on": line.registered_on, "size_class": line.size, "grade": grade,
                "state": line.state.value, "score": line.score, "grade_year": line.year,
                "grade_changed_at": now, "created_at": now, "changed_by_import_id": import_id, "status_version": 1,
            })
            grade_changed = True
            report.created += 1
        else:
            profile = {
                "name": line.name,
                "region_code": line.region or before.region_code,
                "industry_code": line.industry or before.industry_code,
                "registered_on": line.registered_on or before.registered_on,
                "size_class": line.size or before.size_class,
            }
            older = before.grade_year is not None and line.year < before.grade_year
            grade_changed = not older and _grade_differs(line, before)
            held = grade_changed and line.uscc in changed_by_hand
            if held:
                grade_changed = False
                report.held.append({"line": line.line, "uscc": line.uscc, "reason": HELD_REASON})
            profile_changed = any(getattr(before, key) != value for key, value in profile.items())
            if not grade_changed and not profile_changed:
                if older or held:
                    report.skipped += 1
                else:
                    report.unchanged += 1
                continue
            changed_at = now if grade_changed else before.grade_changed_at
            lines_of[line.uscc] = line.line
            updates.append(profile | {
                "uscc": line.uscc,
                "expected": before.status_version,  # applied only if nobody changed the row since it was read
                "grade": grade if grade_changed else before.grade,
                "state": line.state.value if grade_changed else before.state,
                "score": line.score if grade_changed else before.score,
                "grade_year": line.year if grade_changed else before.grade_year,
                "grade_changed_at": changed_at,
                "changed_by_import_id": import_id,  # the push re-match after this import covers it
            })
            report.changed += 1
        if grade_changed:
            records.append({
                "uscc": line.uscc, "year": line.year, "grade": grade, "state": line.state.value,
                "score": line.score, "reason": "annual evaluation import", "source": "import",
                "import_id": import_id, "changed_by": by, "effective_at": now,
            })
            statuses.append(GradeStatus(line.uscc, line.name, line.grade, line.state, line.year, now,
                                        version=_next_version(before)))
        elif before is not None and line.name != before.name:
            statuses.append(GradeStatus(
                line.uscc, line.name, Grade(before.grade) if before.grade else None, State(before.state),
                before.grade_year, before.grade_changed_at, version=_next_version(before),
            ))
    bulk_insert(session, Taxpayer, new_taxpayers)  # COPY on PostgreSQL (app.db.bulk_insert)
    if updates:
        table = Taxpayer.__table__
        session.execute(
            update(table).where(table.c.uscc == bindparam("key"), table.c.status_version == bindparam("expected"))
            .values(status_version=table.c.status_version + 1),
            [{**{k: v for k, v in row.items() if k != "uscc"}, "key": row["uscc"]} for row in updates],
        )
        # which rows the UPDATE skipped (its rows are this transaction's until the commit): a row
        # someone else changed between this chunk's read and its UPDATE (a direct D given just then)
        # still names another import; held like a line that would undo a change by hand (its version
        # alone cannot tell: the other writer also raised it by one)
        missed = set(session.scalars(select(Taxpayer.uscc).where(
            Taxpayer.uscc.in_([row["uscc"] for row in updates]),
            Taxpayer.changed_by_import_id.is_distinct_from(import_id))))
        for uscc in sorted(missed, key=lines_of.__getitem__):
            report.changed -= 1
            report.skipped += 1
            report.held.append({"line": lines_of[uscc], "uscc": uscc, "reason": CHANGED_MEANWHILE})
        records = [record for record in records if record["uscc"] not in missed]
        statuses = [st for st in statuses if st.uscc not in missed]
    bulk_insert(session, GradeRecord, records)
    return statuses


def _next_version(before: Any) -> int:
    """The ``status_version`` a row has once this import wrote it: 1 for a new row (as inserted), or
    the one read plus one (the UPDATE applies only to the version it read)."""
    return 1 if before is None else before.status_version + 1


def _dec(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))

