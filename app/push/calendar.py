"""Calendar reminders as data: which recurring reminder is due on a given local day.

Reminders live in JSON (``calendar.json``, or the file named by ``SHUIMA_PUSH_CALENDAR_FILE``):

- ``monthly_deadline``: the monthly filing deadline is the ``day`` (15th) of the month, moved
  to the next working day when it falls on a weekend or a listed holiday; the reminder is
  due from ``lead_days`` working days before the deadline until the deadline itself;
- ``annual``: once a year from ``month``/``day`` (moved to the next working day) to the end of
  that month, e.g. the annual credit-evaluation publication in April.

A due reminder becomes a policy keyed ``calendar:<key>:<period>``, so running the calendar
job any number of times in the window publishes it once.
"""

from __future__ import annotations

import json
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any


def is_working_day(day: date, holidays: frozenset[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def next_working_day(day: date, holidays: frozenset[date]) -> date:
    """``day`` itself when it is a working day, else the first working day after it."""
    while not is_working_day(day, holidays):
        day += timedelta(days=1)
    return day


def working_days_before(day: date, count: int, holidays: frozenset[date]) -> date:
    """The working day ``count`` working days before ``day`` (``day`` itself for 0)."""
    while count > 0:
        day -= timedelta(days=1)
        if is_working_day(day, holidays):
            count -= 1
    return day


def filing_deadline(year: int, month: int, holidays: frozenset[date], *, day: int = 15) -> date:
    """The monthly filing deadline: the 15th, or the next working day after it."""
    return next_working_day(date(year, month, day), holidays)


@dataclass(frozen=True)
class Reminder:
    key: str
    kind: str  # monthly_deadline | annual
    category: str
    title: str  # str.format template: {deadline}, {year}, {eval_year}, {month}
    body: str
    rule: Any
    day: int = 15
    month: int = 4
    lead_days: int = 3
    critical: bool = False
    priority: int = 50


@dataclass(frozen=True)
class DueReminder:
    reminder: Reminder
    source_key: str
    title: str
    body: str
    valid_to: date  # last local day the reminder is shown for


def load_reminders(path: str | None = None) -> list[Reminder]:
    """Read the reminder catalogue; raises ``ValueError`` for an entry of unknown kind."""
    raw = Path(path).read_text(encoding="utf-8") if path else \
        resources.files("app.push").joinpath("calendar.json").read_text(encoding="utf-8")
    reminders = [Reminder(**entry) for entry in json.loads(raw)]
    for r in reminders:
        if r.kind not in ("monthly_deadline", "annual"):
            raise ValueError(f"calendar reminder {r.key!r}: unknown kind {r.kind!r}")
    return reminders


def due_reminders(reminders: list[Reminder], today: date, holidays: frozenset[date]) -> list[DueReminder]:
    """The reminders whose window contains ``today`` (local date), with their texts filled in."""
    due = []
    for r in reminders:
        if r.kind == "monthly_deadline":
            deadline = filing_deadline(today.year, today.month, holidays, day=r.day)
            start = working_days_before(deadline, r.lead_days, holidays)
            if start <= today <= deadline:
                values = {"deadline": f"{deadline.month}月{deadline.day}日", "month": today.month, "year": today.year}
                due.append(DueReminder(r, f"calendar:{r.key}:{today:%Y-%m}", r.title.format(**values),
                                       r.body.format(**values), deadline))
        else:
            start = next_working_day(date(today.year, r.month, r.day), holidays)
            end = date(today.year, r.month, monthrange(today.year, r.month)[1])
            if start <= today <= end:
                values = {"year": today.year, "eval_year": today.year - 1, "month": r.month}
                due.append(DueReminder(r, f"calendar:{r.key}:{today.year}", r.title.format(**values),
                                       r.body.format(**values), end))
    return due
