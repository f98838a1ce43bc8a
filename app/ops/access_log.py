"""One structured log line per request (gunicorn's own access log is off).

Paths can carry a USCC (``/taxpayers/<uscc>``); the logging filter masks it like any other
identifier before a handler sees the record.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

log = logging.getLogger("shuima.access")


def init_access_log(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g._access_started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        # Checked first: with the level above INFO a request pays for nothing else here.
        if not log.isEnabledFor(logging.INFO):
            return response
        started = g.pop("_access_started", None)
        principal = g.get("principal")
        method, path, status = request.method, request.path, response.status_code
        log.info(
            "%s %s %s", method, path, status,
            extra={
                "method": method, "path": path, "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
                "role": principal.role.value if principal else None,
                "user_id": principal.user_id if principal else None,
            },
        )
        return response
