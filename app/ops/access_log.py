"""One structured log line per request (gunicorn's own access log is off).

Paths can carry a USCC (``/taxpayers/<uscc>``); the logging filter masks it like any other
identifier before a handler sees the record.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request

from app.accounts.domain import Principal
from app.ops.metrics import request_seconds

log = logging.getLogger("shuima.access")


def init_access_log(app: Flask) -> None:
    """Log each request; its duration comes from the metrics' request timer (one timer, not two)."""

    @app.after_request
    def _log(response: Response) -> Response:
        write_access_line(request.method, request.path, response.status_code, request_seconds(),
                          g.get("principal"))
        return response


def write_access_line(method: str, path: str, status: int, elapsed: float | None,
                      principal: Principal | None) -> None:
    """The request's line (the Flask hook and the code-fetch front); nothing at all above INFO."""
    if not log.isEnabledFor(logging.INFO):
        return
    log.info(
        "%s %s %s", method, path, status,
        extra={
            "method": method, "path": path, "status": status,
            "duration_ms": round(elapsed * 1000, 2) if elapsed is not None else None,
            "role": principal.role.value if principal else None,
            "user_id": principal.user_id if principal else None,
        },
    )
