"""Settings and CSV parsing rules, without any I/O beyond a temp dir."""

from __future__ import annotations

from datetime import date

import pytest

from app.config import ConfigError, load_config
from app.errors import InvalidInput
from app.csvimport import read_csv_text
from app.taxpayers.importer import parse_lines


def test_production_mode_refuses_to_start_without_a_secret(tmp_path):
    with pytest.raises(ConfigError, match="SHUIMA_SECRET_KEY"):
        load_config(environ={"SHUIMA_ENV": "production", "DATABASE_URL": "sqlite://",
                             "SHUIMA_INSTANCE_PATH": str(tmp_path)})


def test_development_secret_is_generated_once_and_kept_private(tmp_path):
    env = {"SHUIMA_INSTANCE_PATH": str(tmp_path)}
    first, second = load_config(environ=env), load_config(environ=env)
    assert first["SECRET_KEY"] == second["SECRET_KEY"] and len(first["SECRET_KEY"]) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first["DATABASE_URL"] == f"sqlite:///{tmp_path / 'shuima.db'}"


def test_environment_overrides_defaults_with_types(tmp_path):
    cfg = load_config(environ={"SHUIMA_INSTANCE_PATH": str(tmp_path), "SHUIMA_CODE_TTL_SECONDS": "30",
                               "SHUIMA_QUEUE_SYNC": "yes", "REDIS_URL": "redis://r:6379/1"})
    assert (cfg["CODE_TTL_SECONDS"], cfg["QUEUE_SYNC"], cfg["REDIS_URL"]) == (30, True, "redis://r:6379/1")


def test_bom_is_accepted_and_header_case_ignored():
    lines, errors = parse_lines(read_csv_text("\ufeffUSCC,Name,Grade,Year\n91350100M000100Y43,某公司,a,2025\n".encode()),
                                today=date(2026, 1, 1))
    assert errors == [] and lines[0].grade.value == "A" and lines[0].line == 2


def test_blank_lines_are_skipped_and_line_numbers_stay_true():
    text = "uscc,name,grade,year\n\n91350100M000100Y43,某公司,Q,2025\n"
    _lines, errors = parse_lines(text, today=date(2026, 1, 1))
    assert errors == [{"line": 3, "uscc": "91350100M000100Y43", "errors": {"grade": ["must be one of A, B, M, C, D"]}}]


def test_a_bad_line_after_a_quoted_field_spanning_two_lines_is_numbered_as_the_file_shows_it():
    text = 'uscc,name,grade,year\n91350100M000100Y43,"宁波\n某公司",A,2025\n91350100M000100Y43,某公司,Q,2025\n'
    _lines, errors = parse_lines(text, today=date(2026, 1, 1))
    assert [e["line"] for e in errors] == [4]  # the record on lines 2–3 comes first; not "line 3"


def test_a_score_is_taken_to_the_cent_before_its_band_is_checked():
    text = ("uscc,name,grade,year,score\n91350100M000100Y43,甲公司,B,2025,89.999\n"
            "91330200M0000087EW,乙公司,B,2025,89.994\n91350100M000100Y43,甲公司,A,2025,NaN\n")
    lines, errors = parse_lines(text, today=date(2026, 1, 1))
    assert [(e["line"], list(e["errors"])) for e in errors] == [(2, ["score"]), (4, ["score"])]  # 90.00 is not B
    assert [str(line.score) for line in lines] == ["89.99"]  # stored as the column holds it


def test_a_registration_date_in_the_future_is_a_bad_line():
    text = "uscc,name,grade,year,registered_on\n91350100M000100Y43,某公司,B,2025,9999-12-31\n"
    _lines, errors = parse_lines(text, today=date(2026, 1, 1))
    assert errors[0]["errors"] == {"registered_on": ["must not be in the future"]}


def test_a_header_that_repeats_a_column_is_refused():
    with pytest.raises(InvalidInput) as info:
        parse_lines("uscc,name,grade,year,grade\n91350100M000100Y43,某公司,B,2025,A\n", today=date(2026, 1, 1))
    assert info.value.errors == {"file": ["header repeats column(s): grade"]}


def test_header_without_required_columns_is_refused():
    with pytest.raises(InvalidInput) as info:
        parse_lines("uscc,name\n", today=date(2026, 1, 1))
    assert info.value.errors == {"file": ["header lacks required column(s): grade, year"]}


def test_plain_postgresql_urls_use_the_shipped_psycopg_driver(tmp_path):
    cfg = load_config(environ={"SHUIMA_INSTANCE_PATH": str(tmp_path),
                               "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"})
    assert cfg["DATABASE_URL"] == "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_local_datetimes_outside_the_utc_range_are_a_validation_error():
    from marshmallow import Schema, ValidationError

    from app.fields import LocalDateTime

    class When(Schema):
        at = LocalDateTime()

    assert When().load({"at": "2026-11-25T10:00:00"})["at"].isoformat() == "2026-11-25T02:00:00+00:00"
    with pytest.raises(ValidationError) as info:
        When().load({"at": "0001-01-01T00:00:00"})
    assert "at" in info.value.messages
