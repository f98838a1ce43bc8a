"""One structured log line per request (gunicorn's own access log is off).

Paths can carry a USCC (``/taxpayers/<uscc>``); the logging filter masks it like any other
identifier before a handler sees the record.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request

from app.ops.metrics import request_seconds

log = logging.getLogger("shuima.access")


def init_access_log(app: Flask) -> None:
    """Log each request; its duration comes from the metrics' request timer (one timer, not two)."""

    @app.after_request
    def _log(response: Response) -> Response:
        # Checked first: with the level above INFO a request pays for nothing else here.
        if not log.isEnabledFor(logging.INFO):
            return response
        elapsed = request_seconds()
        principal = g.get("principal")
        method, path, status = request.method, request.path, response.status_code
        log.info(
            "%s %s %s", method, path, status,
            extra={
                "method": method, "path": path, "status": status,
                "duration_ms": round(elapsed * 1000, 2) if elapsed is not None else None,
                "role": principal.role.value if principal else None,
                "user_id": principal.user_id if principal else None,
            },
        )
        return response
