"""Refuse input that no handler can parse or store, before it reaches one (422/404, never 500).

Registered first in ``create_app``: the ``int`` URL converter must be replaced before any
blueprint adds a rule. A caller the route would turn away (no or a bad token: 401; another
role: 403) is not told what is wrong with its input: the guard stands aside and the view's
``requires`` answers, before anything is read.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, current_app, request
from werkzeug.routing import IntegerConverter

from app.auth import authenticate, roles_of
from app.errors import InvalidInput, Unauthenticated


def init_input_guard(app: Flask) -> None:
    app.url_map.converters["int"] = _RowIdConverter
    app.before_request(_refuse_unusable_input)


MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a JSON body may have: the parsers (the JSON decoder, the
policy-rule parser) recurse, and no request of this API needs more than a handful of levels."""


MAX_PAGE = 100_000
"""Deepest page of any list (``?page=``): far beyond it, the OFFSET overflows the database driver."""


def _refuse_unusable_input() -> None:
    try:
        _check_input()
    except InvalidInput:
        if _turned_away():
            return  # the view's ``requires`` answers 401 or 403
        raise


def _turned_away() -> bool:
    """Whether the route's role check refuses this caller (checked only for input about to be refused)."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    roles = roles_of(getattr(view_class, request.method.lower(), None) if view_class else view)
    if roles is None:
        return False  # an open route (log-in, the public keys)
    try:
        return authenticate().role not in roles
    except Unauthenticated:
        return True


def _check_input() -> None:
    """Answer 422, naming the field, for input no handler can parse or store instead of letting it
    reach a parser or the database as a 500: a NUL character (PostgreSQL text cannot hold one) in
    a path parameter, the query string or a JSON body; a lone surrogate (``"\\ud800"`` is valid
    JSON but no UTF-8 encoder takes it) in a JSON string; JSON nested deeper than MAX_JSON_DEPTH;
    and a page number past MAX_PAGE (every list pages with the same ``page`` parameter)."""
    for name, value in [*(request.view_args or {}).items(), *request.args.items(multi=True)]:
        if isinstance(value, str) and "\x00" in value:
            raise InvalidInput.field(name, "must not contain a NUL character")
    page = request.args.get("page", "").strip().lstrip("0")
    if page.isascii() and page.isdigit() and (len(page) > len(str(MAX_PAGE)) or int(page) > MAX_PAGE):
        raise InvalidInput.field("page", f"must be at most {MAX_PAGE}")
    mimetype = request.mimetype
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        return
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:
        raise InvalidInput.field("json", f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    if body is None:
        _refuse_unreadable_numbers(request.get_data(cache=True))
        return
    # (value, its JSON path, depth); too deep is reported on the top-level field, bad text on its path
    stack: list[tuple[Any, str, int]] = [(body, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                raise InvalidInput.field(path or "json", problem)
            continue
        if isinstance(value, (dict, list)) and depth >= MAX_JSON_DEPTH:
            top = path.split(".")[0].split("[")[0] if depth > 1 else path
            raise InvalidInput.field(top or "json", f"nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                problem = _text_problem(key)
                if problem:  # named by its parent: echoing the key itself could not be encoded either
                    raise InvalidInput.field(path or "json", f"a key {problem}")
                stack.append((item, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path or 'json'}[{i}]", depth + 1) for i, item in enumerate(value))


def _refuse_unreadable_numbers(data: bytes) -> None:
    """A body that is well-formed JSON but that the decoder still refuses: an integer longer than
    Python reads (``sys.get_int_max_str_digits``, 4,300 digits). The body parser would raise the
    same ValueError, which is not the JSON syntax error it answers 422 for; anything else that
    failed (bad syntax, bad encoding) is left to it."""
    if not data:
        return
    try:
        json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return
    except ValueError:
        raise InvalidInput.field("json", "holds a number with more digits than any field takes") from None


def _text_problem(text: str) -> str | None:
    """Why a JSON string cannot be stored, or None."""
    if "\x00" in text:
        return "must not contain a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text (it holds a lone surrogate)"
    return None


class _RowIdConverter(IntegerConverter):
    """``<int:…>`` path ids are row keys, INTEGER columns unless a route says ``<int(max=…):…>``
    (BIGINT keys): past the column's range no row can match, so the route answers 404 instead of
    handing the database a parameter it overflows on (SQLite's driver past 64 bits, PostgreSQL's
    ``integer out of range`` past 32): a 500."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)
