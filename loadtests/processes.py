"""Start and stop the service's processes for the load and benchmark tools and the multi-process test.

Every process is started in its own session and stopped by its own pid (SIGTERM, then SIGKILL
after a grace period), so a tool never leaves a gunicorn behind and never touches anything
it did not start. Only loopback addresses are used.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_settings() -> Any:
    """gunicorn's own reading of ``gunicorn.conf.py`` with the ``SHUIMA_WEB_*`` variables as they
    are now (``.workers``, ``.threads``, ``.worker_class``…): what ``start_gunicorn`` will run with,
    without starting anything."""
    from gunicorn.app.base import Application

    class _Settings(Application):
        def init(self, parser: Any, opts: Any, args: Any) -> None:
            return None

        def load_config(self) -> None:
            self.load_config_from_file(str(ROOT / "gunicorn.conf.py"))

        def load(self) -> Any:
            raise RuntimeError("only the settings are read")

    return _Settings().cfg


def start_gunicorn(wsgi_app: str, *, port: int, env: dict[str, str], args: list[str] | None = None,
                   log: Path | None = None) -> subprocess.Popen:
    """gunicorn with the production settings (``gunicorn.conf.py``) on 127.0.0.1:``port``.

    ``args`` are extra gunicorn options (``-k sync``, ``-w 3``…), which override the config file.
    """
    env = {**env, "SHUIMA_WEB_BIND": f"127.0.0.1:{port}"}
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), *(args or []),
                             wsgi_app], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_http(url: str, *, process: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    """Wait until ``url`` answers 200; raise if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


def stop(process: subprocess.Popen | None, *, grace: float = 10.0) -> None:
    """Stop one process we started (SIGTERM, then SIGKILL after ``grace`` seconds)."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def base_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: ours, plus the repository on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env
