"""Structured JSON logs with identifiers masked.

Every record passes a filter that masks anything shaped like a USCC or a resident ID number
in the message and in string ``extra`` fields, so no handler anywhere can write a full
identifier to a log (DOMAIN.md §1: never show a full identifier to a bank or a log).
"""

from __future__ import annotations

import logging
import re
import sys

from pythonjsonlogger.json import JsonFormatter

#: 18 characters of the USCC alphabet, or 17 digits + digit/X (resident ID), standing alone. In
#: either case: the API takes a USCC in lower case too (``normalize_uscc`` upper-cases it), and a
#: path such as ``/taxpayers/91330200m0000087ew`` must not reach a log in full.
IDENTIFIER = re.compile(r"(?<![0-9A-Z])([0-9A-HJ-NPQRTUWXY]{4})[0-9A-HJ-NPQRTUWXY]{12}([0-9A-HJ-NPQRTUWXY]{2})(?![0-9A-Z])",
                        re.IGNORECASE)
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{4})\d{12}(\d{1}[\dXx])(?![0-9A-Za-z])")


#: Both patterns match exactly 18 characters: a shorter text cannot hold an identifier.
IDENTIFIER_LENGTH = 18


def mask_identifiers(text: str) -> str:
    if len(text) < IDENTIFIER_LENGTH:  # most fields of an access line: "GET", "taxpayer", short paths
        return text
    text = IDENTIFIER.sub(lambda m: m.group(1) + "*" * 12 + m.group(2), text)
    return ID_NUMBER.sub(lambda m: m.group(1) + "*" * 12 + m.group(2), text)


class MaskIdentifiers(logging.Filter):
    _RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_identifiers(record.getMessage())
        record.args = None
        if record.exc_info:
            # A traceback can quote a failed SQL statement with its parameters: format it now,
            # masked, and drop exc_info so no formatter prints the raw text again.
            record.exc_text = mask_identifiers(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask_identifiers(record.exc_text)
        for key, value in list(vars(record).items()):
            if key not in self._RESERVED and isinstance(value, str):
                setattr(record, key, mask_identifiers(value))
        return True


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    """Route the root logger to stderr, as JSON lines (or plain text for humans).

    Records skip the caller's file and line (a stack walk per record) and the multiprocessing
    name, which no line here prints — two of the logging HOWTO's "Optimization" switches. At
    INFO every request writes an access line, so this is on the hot path. Process and thread
    ids stay: gunicorn's own log lines print ``%(process)d``.
    """
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                           rename_fields={"levelname": "level", "asctime": "time"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskIdentifiers())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_shuima", False)]:
        root.removeHandler(old)
    handler._shuima = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
