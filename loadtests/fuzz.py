"""``make fuzz``: schemathesis against a make-run-style service, once per demo role.

1. starts ``python -m app.devserver`` (migrations, demo data, embedded Valkey unless ``REDIS_URL``
   is set) on a free loopback port with its own instance directory ``instance/fuzz/``, log-in
   and verification limits raised so the fuzzer is not throttled;
2. logs in as each demo role (``firm-a``, ``clerk``, ``officer``, ``rural-admin``, ``admin``) and
   runs ``st run …/openapi.json`` with that bearer token and the ``not_a_server_error`` check;
3. stops the server. Exits non-zero when any run found a 5xx (its reproduction is printed).

``FUZZ_MAX_EXAMPLES`` (default 30) bounds the examples per operation and phase.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from loadtests.processes import ROOT, base_env, free_port, stop, wait_http

ROLES = ("firm-a", "clerk", "officer", "rural-admin", "admin")
UNTHROTTLED = "1000000 per 1 minute"


def log_in(host: str, username: str, password: str) -> str:
    request = urllib.request.Request(f"{host}/api/v1/auth/token", method="POST",
                                     data=json.dumps({"username": username, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["access_token"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", default=str(ROOT / "instance" / "fuzz"))
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("FUZZ_MAX_EXAMPLES", "30")))
    parser.add_argument("--roles", default=",".join(ROLES))
    args = parser.parse_args(argv)

    port = free_port()
    host = f"http://127.0.0.1:{port}"
    env = base_env(SHUIMA_INSTANCE_PATH=args.instance, SHUIMA_LOG_LEVEL="WARNING",
                   SHUIMA_VERIFY_RATE_LIMIT=UNTHROTTLED, SHUIMA_LOGIN_FAILURES_PER_USER=UNTHROTTLED,
                   SHUIMA_LOGIN_FAILURES_PER_ADDRESS=UNTHROTTLED)
    Path(args.instance).mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen([sys.executable, "-m", "app.devserver", "--bind", f"127.0.0.1:{port}"], cwd=ROOT,
                              env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    failed: list[str] = []
    try:
        wait_http(f"{host}/readyz", process=server, timeout=120)
        passwords = json.loads((Path(args.instance) / "demo_logins.json").read_text())
        for role in args.roles.split(","):
            print(f"=== {role}", flush=True)
            token = log_in(host, role, passwords[role])
            run = subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", f"{host}/openapi.json",
                                  "--checks", "not_a_server_error", "--max-examples", str(args.max_examples),
                                  "--continue-on-failure", "--request-timeout", "30",
                                  "--header", f"Authorization: Bearer {token}"],
                                 cwd=args.instance, env=env, check=False)
            if run.returncode:
                failed.append(role)
    finally:
        stop(server, grace=20)
    if failed:
        print(f"schemathesis found failures as: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
