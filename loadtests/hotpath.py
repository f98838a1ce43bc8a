"""What one request costs inside the process: hello, a warm code fetch, a verification, a token refresh.

    .venv/bin/python -m loadtests.hotpath [--requests 2000] [--rounds 5] [--without access_log,input_guard]

No gunicorn, no sockets between client and app: each request is a WSGI environ (built once by
werkzeug) handed straight to the app, so the figures are the app's own CPU — Flask, our hooks,
the use case, its Redis round trip and SQL — without the server's share, which ``bench.py``
measures. The three endpoints run interleaved, round after round, and each figure is the CPU
time (``time.process_time``) per request: the lowest round and the median, since a busy machine
can only add time.

``--without`` takes hooks out of the service app to see what each costs, measured in the same
run as the full app (rows "full", "without <hook>" for each, and all of them together):
``access_log``, ``input_guard``, ``metrics`` (Flask's hooks: they no longer run for the plain
code fetch, which ``app.codes.front`` answers in front of Flask with the same access line and
metrics), and ``front`` (every request through Flask, the code fetch as it was before the front).
Nothing else changes, so the difference is that hook's cost in context (a hook measured alone
in a loop looks cheaper: its code and data stay in the CPU caches).

Uses a fresh SQLite file and REDIS_URL (else an embedded Valkey: ``loadtests.scratch``); the app runs at the
production log level (INFO, JSON lines, to /dev/null) with the per-clerk limit lifted.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from typing import Any, Callable

from loadtests.scratch import scratch

#: The hook functions each name takes out of Flask's lists ("front" takes none: it unwraps the front).
HOOKS: dict[str, tuple[str, ...]] = {"access_log": ("_log",), "input_guard": ("_refuse_unusable_input",),
                                     "metrics": ("_start_timer", "_record"), "front": ()}


def _environ(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(method=method, path=path, headers=headers, data=body or None,
                             content_type="application/json" if body else None)
    environ = builder.get_environ()
    environ["shuima.body"] = body
    return environ


def _caller(app: Callable, environ: dict[str, Any]) -> Callable[[], None]:
    def start_response(status: str, headers: list, exc_info: Any = None) -> None:
        return None

    def call() -> None:
        env = dict(environ, **{"wsgi.input": io.BytesIO(environ["shuima.body"])})
        body = app(env, start_response)
        for _chunk in body:
            pass
        if hasattr(body, "close"):
            body.close()

    return call


def _without(app: Any, hooks: list[str]) -> Callable[[], None]:
    """Take ``hooks`` out of ``app``; returns a function that puts them back."""
    from app.codes.front import CodeFetchFront

    names = {n for h in hooks for n in HOOKS[h]}
    before, after = list(app.before_request_funcs[None]), list(app.after_request_funcs[None])
    app.before_request_funcs[None] = [f for f in before if f.__name__ not in names]
    app.after_request_funcs[None] = [f for f in after if f.__name__ not in names]
    wsgi_app = app.wsgi_app
    if "front" in hooks:
        assert isinstance(wsgi_app, CodeFetchFront)
        app.wsgi_app = wsgi_app.inner

    def restore() -> None:
        app.before_request_funcs[None], app.after_request_funcs[None] = before, after
        app.wsgi_app = wsgi_app

    return restore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--without", default="", help=f"comma-separated hooks to compare without: {', '.join(HOOKS)}")
    args = parser.parse_args(argv)
    hooks = [h for h in args.without.split(",") if h]
    unknown = [h for h in hooks if h not in HOOKS]
    if unknown:
        parser.error(f"unknown hook(s): {', '.join(unknown)}")

    from app.accounts.domain import Role
    from loadtests.hello import app as hello
    from tests.factories import Factory

    devnull = open(os.devnull, "w")  # noqa: SIM115 - the log stream for the whole run
    stderr, sys.stderr = sys.stderr, devnull  # the JSON access lines go to the handler's stream
    try:
        with scratch("shuima-hotpath-") as sc:
            app = sc.create_app(SECRET_KEY=os.urandom(24).hex(), LOG_JSON=True, LOG_LEVEL="INFO",
                                PASSWORD_TIME_COST=1, PASSWORD_MEMORY_COST=64,
                                VERIFY_RATE_LIMIT="1000000 per 1 minute")
            factory = Factory(app, app.test_client())
            _uscc, taxpayer = factory.as_taxpayer("A")
            clerk = factory.as_clerk()
            token = app.test_client().get("/api/v1/me/code", headers=taxpayer).json["token"]
            grant = app.test_client().post("/api/v1/auth/token", json={
                "username": factory.user(Role.TAXPAYER, uscc=_uscc), "password": factory.PASSWORD}).json
            refresh = grant["refresh_token"]
            calls = {
                "hello": _caller(hello, _environ("GET", "/hello", {})),
                "code fetch": _caller(app, _environ("GET", "/api/v1/me/code", taxpayer)),
                "verification": _caller(app, _environ("POST", "/api/v1/verifications", clerk,
                                                      json.dumps({"token": token}).encode())),
                "token refresh": _caller(app, _environ("POST", "/api/v1/auth/refresh", {},
                                                       json.dumps({"refresh_token": refresh}).encode())),
            }
            variants = [("full", [])] + [(f"without {h}", [h]) for h in hooks]
            if len(hooks) > 1:
                variants.append((f"without {', '.join(hooks)}", hooks))
            times: dict[tuple[str, str], list[float]] = {}
            for n in range(1, args.rounds + 1):
                for variant, taken in variants:
                    restore = _without(app, taken)
                    try:
                        for name, call in calls.items():
                            if name == "hello" and taken:
                                continue
                            for _ in range(100):  # warm: caches, pools, the token cache
                                call()
                            started = time.process_time()
                            for _ in range(args.requests):
                                call()
                            times.setdefault((variant, name), []).append((time.process_time() - started) / args.requests)
                    finally:
                        restore()
                print(f"round {n}/{args.rounds} done", file=stderr)
    finally:
        sys.stderr = stderr
        devnull.close()
    hello_best = min(times[("full", "hello")])
    width = max(len(variant) for variant, _name in times)
    print(f"{'app':{width}s}  {'endpoint':14s} {'best µs':>8s} {'median µs':>10s} {'× hello':>8s}")
    for (variant, name), values in times.items():
        best = min(values)
        print(f"{variant:{width}s}  {name:14s} {best * 1e6:8.0f} {statistics.median(values) * 1e6:10.0f} "
              f"{best / hello_best:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
