"""Calendar reminders: the 15th moves to the next working day; April brings the evaluation results."""

from __future__ import annotations

from datetime import date

from app.push.calendar import due_reminders, filing_deadline, load_reminders, working_days_before

NO_HOLIDAYS: frozenset[date] = frozenset()


def test_deadline_on_a_weekday_stays_on_the_15th():
    assert filing_deadline(2026, 4, NO_HOLIDAYS) == date(2026, 4, 15)


def test_deadline_on_a_sunday_moves_to_monday():
    assert filing_deadline(2026, 3, NO_HOLIDAYS) == date(2026, 3, 16)


def test_deadline_on_a_saturday_moves_to_monday():
    assert filing_deadline(2026, 8, NO_HOLIDAYS) == date(2026, 8, 17)


def test_deadline_also_moves_past_listed_holidays():
    holidays = frozenset({date(2026, 10, d) for d in range(1, 9)} | {date(2026, 10, 15)})
    assert filing_deadline(2026, 10, holidays) == date(2026, 10, 16)


def test_working_days_before_skips_the_weekend():
    assert working_days_before(date(2026, 3, 16), 3, NO_HOLIDAYS) == date(2026, 3, 11)


def test_monthly_reminder_is_due_from_three_working_days_before_until_the_deadline():
    reminders = load_reminders()
    keys = lambda day: [d.source_key for d in due_reminders(reminders, day, NO_HOLIDAYS)]  # noqa: E731
    assert keys(date(2026, 3, 10)) == []
    assert keys(date(2026, 3, 11)) == ["calendar:monthly-filing:2026-03"]
    assert keys(date(2026, 3, 16)) == ["calendar:monthly-filing:2026-03"]
    assert keys(date(2026, 3, 17)) == []


def test_reminder_text_names_the_moved_deadline():
    due = due_reminders(load_reminders(), date(2026, 3, 12), NO_HOLIDAYS)[0]
    assert "3月16日" in due.title and due.valid_to == date(2026, 3, 16)


def test_evaluation_results_reminder_runs_through_april_from_its_first_working_day():
    reminders = load_reminders()

    def annual(day):
        return [d for d in due_reminders(reminders, day, NO_HOLIDAYS) if d.source_key.startswith("calendar:annual")]

    assert annual(date(2028, 4, 1)) == []  # a Saturday: the window opens on Monday the 3rd
    [due] = annual(date(2028, 4, 3))
    assert due.source_key == "calendar:annual-evaluation:2028" and due.title.startswith("2027年度")
    assert annual(date(2028, 4, 30)) and annual(date(2028, 5, 1)) == []
