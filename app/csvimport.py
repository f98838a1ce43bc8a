"""What every CSV import shares: decoding, a hardened reader, header checks, the report.

Imports report bad lines one by one (``{"line", <key column>, "errors": {field: [reasons]}}``)
and keep the good ones; only a file that cannot be read at all is refused as a whole, with a
422 naming ``file``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, Iterator

from flask_smorest.fields import Upload
from marshmallow import Schema, fields

from app.errors import InvalidInput


@dataclass
class ImportReport:
    """Counts of one import run and its bad lines."""

    import_id: int
    rows: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.errors)


class ImportFileSchema(Schema):
    """The multipart upload of every CSV import route."""

    file = Upload(required=True)


class ImportReportSchema(Schema):
    """``ImportReport`` as the import routes answer it."""

    import_id = fields.Integer()
    rows = fields.Integer()
    created = fields.Integer()
    changed = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.Integer()
    errors = fields.List(fields.Dict(), metadata={"description": "one entry per bad line: line, errors"})


def read_csv_text(data: bytes) -> str:
    """Decode an upload as UTF-8 (a BOM is allowed), or raise ``InvalidInput`` on ``file``.

    A NUL character is refused here too: no column may hold one (PostgreSQL text cannot)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput.field("file", f"is not UTF-8 text (bad byte at offset {exc.start})") from exc
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise InvalidInput.field("file", f"contains a NUL character (line {line})")
    return text


def csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(physical line the record starts on, its cells) per record, header first, read with universal
    newlines (``\\r`` alone ends a line too). A quoted field may span lines, so a record's number is
    where it starts in the file, as an editor shows it, not a count of records.

    Raises ``InvalidInput`` on ``file`` for what the csv module cannot read (an over-long field, a
    stray quote before a line break), naming the physical line.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    ended = 0  # the physical line the previous record ended on
    try:
        for cells in reader:
            yield ended + 1, cells
            ended = reader.line_num
    except csv.Error as exc:
        raise InvalidInput.field("file", f"line {reader.line_num}: {exc}") from None


def csv_rows(text: str, required: tuple[str, ...], optional: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: stripped text}) per non-blank line; header names are case-blind.

    Raises ``InvalidInput`` on ``file`` for an empty file or a header without a required column.
    """
    reader = csv_records(text)
    try:
        header = [h.strip().lower() for h in next(reader)[1]]
    except StopIteration:
        raise InvalidInput.field("file", "is empty") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInput.field("file", f"header lacks required column(s): {', '.join(missing)}")
    repeated = sorted({c for c in (*required, *optional) if header.count(c) > 1})
    if repeated:  # which of the two would be meant cannot be told
        raise InvalidInput.field("file", f"header repeats column(s): {', '.join(repeated)}")
    index = {name: header.index(name) for name in (*required, *optional) if name in header}
    for number, cells in reader:
        if any(cell.strip() for cell in cells):
            yield number, {name: (cells[i].strip() if i < len(cells) else "") for name, i in index.items()}
