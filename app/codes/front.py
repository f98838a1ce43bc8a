"""``GET /api/v1/me/code`` answered in front of Flask, for the request every open app makes every minute.

A taxpayer's app fetches its code once a minute; it is the most frequent request of the service.
Flask's request context, URL matching, hooks and the view's decorators were ≈35 % of that
request's CPU in one process (342 → 222 µs), and with them the fetch reached 0.44–0.46× the
yardstick's throughput under gunicorn (issue #5 asks for 0.5×); answered here it reached
0.56–0.68× (docs/performance.md, "Latest run").

Only the plain request is answered here: ``GET`` of exactly this path, no query string, no body,
and a bearer token that reads as a taxpayer's. Everything else goes to Flask untouched, which
answers it as before: no or a bad token (401), another role (403), ``HEAD``, a query string, a
body. Those are decided before any I/O of the use case (the bearer check's only I/O is the
revocation list's periodic read, ``app.accounts.security.Revocations``, which Flask would make
just the same), so nothing is done twice.

An error of the use case itself (a taxpayer without a record, a database that cannot be reached)
is not retried through Flask: it is answered by Flask's error handling in a request context —
the same handlers, the same logging of unexpected errors, the same after-request hooks (access
line, metrics) — exactly as if the view had raised it.

The request-shape rule above is the only thing this module decides by itself. It shares the rest
with the view: the caller's check (``app.auth.read_bearer``), the use case and its answer
(``code_for``, ``code_answer``), the app's JSON provider (``response``, which ``jsonify`` calls),
the access line (``write_access_line``) and the metrics (``observe``, under the view's endpoint
name); ``tests/e2e/test_hot_paths.py`` holds both paths to the same bytes and headers.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

from flask import Flask, g

from app.accounts.domain import Principal, Role
from app.auth import read_bearer
from app.codes.routes import code_answer, code_for
from app.ops.access_log import write_access_line
from app.ops.metrics import observe, start_timer

PATH = "/api/v1/me/code"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class CodeFetchFront:
    """WSGI middleware: the plain code fetch here, every other request to ``inner`` (Flask's app)."""

    def __init__(self, app: Flask, inner: WSGIApp):
        self.inner = inner
        self._app = app
        self._services = app.extensions["shuima.services"]
        self._json = app.json
        endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                     if rule.rule == PATH and "GET" in (rule.methods or ())}
        if len(endpoints) != 1:
            raise RuntimeError(f"the front needs exactly one GET view of {PATH}, found {sorted(endpoints)}")
        (self._endpoint,) = endpoints

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "GET"
                or environ.get("QUERY_STRING") or environ.get("CONTENT_LENGTH", "0") not in ("", "0")
                or "HTTP_TRANSFER_ENCODING" in environ):
            return self.inner(environ, start_response)
        started = time.perf_counter()
        services = self._services
        try:
            caller = read_bearer(environ.get("HTTP_AUTHORIZATION", ""), services)
        except Exception:  # noqa: BLE001 - Unauthenticated, or a fault Flask will log: no I/O was done yet
            caller = None
        if caller is None or caller.role is not Role.TAXPAYER or caller.uscc is None:
            return self.inner(environ, start_response)  # Flask answers the 401 or 403 (or its 500)
        try:
            response = self._json.response(code_answer(code_for(caller.uscc, services)))
        except Exception as error:  # noqa: BLE001 - answered as Flask answers a view's error
            response = self._answer_error(error, environ, caller, started)
        else:
            elapsed = time.perf_counter() - started
            observe("GET", self._endpoint, 200, elapsed)
            write_access_line("GET", PATH, 200, elapsed, caller)
        return response(environ, start_response)

    def _answer_error(self, error: Exception, environ: dict[str, Any], caller: Principal, started: float) -> Any:
        """Flask's answer to ``error`` raised by the view, without running the view again.

        The same steps as Flask's own dispatch (``full_dispatch_request`` and ``wsgi_app``): the
        registered handler if there is one, then the after-request hooks; otherwise
        ``handle_exception``, which logs the error and answers 500 (or re-raises it when the app
        propagates exceptions, as Flask would)."""
        app = self._app
        with app.request_context(environ):
            g.principal = caller
            start_timer(at=started)
            try:
                try:
                    raise error
                except Exception as raised:  # noqa: BLE001 - handle_user_exception re-raises what has no handler
                    answer = app.handle_user_exception(raised)
                return app.finalize_request(answer)
            except Exception as unhandled:  # noqa: BLE001
                return app.handle_exception(unhandled)
