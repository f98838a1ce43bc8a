"""The benchmark's yardstick: a bare Flask app served by the same gunicorn settings as Shuima.

``loadtests/bench.py`` reports the service's throughput as a ratio of this one's, measured in
the same run on the same machine, so the targets hold whatever else the machine is doing.
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello() -> dict[str, str]:
    """A small JSON answer, like the service's (no database, no Redis)."""
    return {"hello": "world"}
