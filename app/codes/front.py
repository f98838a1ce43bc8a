"""``GET /api/v1/me/code`` answered in front of Flask, for the request every open app makes every minute.

A taxpayer's app fetches its code once a minute; it is the most frequent request of the service.
Flask's request context, URL matching, hooks and response objects were ≈40 % of that request's
CPU, and with them the fetch reached 0.44–0.46× the yardstick's throughput (issue #5 asks for
0.5×); answered here it reached 0.56–0.68× (docs/performance.md, "Code fetch in front of Flask").

Only the plain request is answered here: ``GET`` of exactly this path, no query string, no body,
and a bearer token that reads as a taxpayer's. Everything else goes to Flask untouched, which
answers it as before: no or a bad token (401), another role (403), ``HEAD``, a query string, a
body, and any exception raised on the way (a taxpayer without a record, a database error). A
code fetch is safe to hand over half done: issuing a code only stores it in the cache, and
Flask's attempt reads it back.

Nothing is kept twice. This module and the Flask view share the caller's check
(``app.auth.read_bearer``), the use case and its answer (``code_for``, ``code_answer``), the JSON
answer (the app's JSON provider's ``response``, which ``jsonify`` calls), the access line
(``write_access_line``) and the metrics (``observe``, under the view's endpoint name); a test
holds both paths to the same bytes.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

from flask import Flask

from app.accounts.domain import Role
from app.auth import read_bearer
from app.codes.routes import code_answer, code_for
from app.ops.access_log import write_access_line
from app.ops.metrics import observe

PATH = "/api/v1/me/code"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class CodeFetchFront:
    """WSGI middleware: the plain code fetch here, every other request to ``inner`` (Flask)."""

    def __init__(self, app: Flask, inner: WSGIApp):
        self._inner = inner
        self._services = app.extensions["shuima.services"]
        self._json = app.json
        self._endpoint = app.url_map.bind("localhost").match(PATH, "GET")[0]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "GET"
                or environ.get("QUERY_STRING") or environ.get("CONTENT_LENGTH", "0") not in ("", "0")
                or "HTTP_TRANSFER_ENCODING" in environ):
            return self._inner(environ, start_response)
        started = time.perf_counter()
        s = self._services
        try:
            caller = read_bearer(environ.get("HTTP_AUTHORIZATION", ""), s)
            if caller.role is not Role.TAXPAYER or caller.uscc is None:
                return self._inner(environ, start_response)
            response = self._json.response(code_answer(code_for(caller.uscc, s)))
        except Exception:  # noqa: BLE001 - Flask answers it, with its error handlers and logging
            return self._inner(environ, start_response)
        elapsed = time.perf_counter() - started
        observe("GET", self._endpoint, 200, elapsed)
        write_access_line("GET", PATH, 200, elapsed, caller)
        return response(environ, start_response)
