"""The scale-out shape: two gunicorn instances sharing one database and one Redis.

What holds for two instances on one machine holds for several hosts behind a load balancer:
no instance keeps state that another needs (access tokens are signed with the shared secret,
signing keys live in the database, statuses and codes in Redis).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Iterator

import pytest

from app.accounts.domain import Role
from loadtests.processes import base_env, free_port, start_gunicorn, stop, wait_http
from tests.factories import Factory


def call(base: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def log_in(base: str, username: str) -> str:
    status, body = call(base, "POST", "/api/v1/auth/token", {"username": username, "password": Factory.PASSWORD})
    assert status == 200, body
    return body["access_token"]


@pytest.fixture
def two_instances(app, database_url: str, redis_url: str, tmp_path) -> Iterator[tuple[str, str]]:
    # The `app` fixture's secret (the two servers must share one) and its cheap password hashing.
    env = base_env(DATABASE_URL=database_url, REDIS_URL=redis_url, SHUIMA_SECRET_KEY=app.config["SECRET_KEY"],
                   SHUIMA_INSTANCE_PATH=str(tmp_path / "shared-instance"), SHUIMA_LOG_LEVEL="WARNING",
                   SHUIMA_PASSWORD_TIME_COST=str(app.config["PASSWORD_TIME_COST"]),
                   SHUIMA_PASSWORD_MEMORY_COST=str(app.config["PASSWORD_MEMORY_COST"]))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    ports = free_port(), free_port()
    servers = [start_gunicorn("app.wsgi:app", port=port, env=env, args=["-w", "1", "--threads", "2"],
                              log=tmp_path / f"gunicorn-{port}.log") for port in ports]
    try:
        for port, server in zip(ports, servers):
            wait_http(f"http://127.0.0.1:{port}/readyz", process=server, timeout=30)
        yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    finally:
        for server in servers:
            stop(server)


def test_a_code_from_one_instance_verifies_on_the_other_and_a_grade_change_shows_on_both(factory, two_instances):
    one, other = two_instances
    uscc = factory.taxpayer("A", score="95")
    firm = factory.user(Role.TAXPAYER, uscc=uscc)
    clerk = factory.user(Role.CLERK, bank_code="MP-BANK", bank_name="多进程银行")
    admin = factory.user(Role.TAX_ADMIN)

    firm_token = log_in(one, firm)
    status, code = call(one, "GET", "/api/v1/me/code", token=firm_token)
    assert status == 200 and code["color"] == "gold"

    clerk_token = log_in(other, clerk)
    status, verdict = call(other, "POST", "/api/v1/verifications", {"token": code["token"]}, token=clerk_token)
    assert status == 200, verdict
    assert (verdict["valid"], verdict["reason"], verdict["color"]) == (True, "ok", "gold")

    # The access token issued by one instance is honoured by the other (shared secret, no session state).
    status, same = call(other, "GET", "/api/v1/me/code", token=firm_token)
    assert status == 200 and same["token"] == code["token"]

    status, changed = call(one, "PUT", f"/api/v1/taxpayers/{uscc}/grade", token=log_in(one, admin),
                           body={"grade": "D", "state": "normal", "score": "31", "year": 2025,
                                 "reason": "直接判级: 逃避追缴欠税"})
    assert status == 200 and changed["color"] == "red", changed

    status, after = call(other, "GET", "/api/v1/me/code", token=firm_token)
    assert status == 200 and (after["color"], after["grade"]) == ("red", "D")
    assert after["token"] != code["token"]
    status, stale = call(other, "POST", "/api/v1/verifications", {"token": code["token"]}, token=clerk_token)
    assert status == 200 and (stale["reason"], stale["color"], stale["grade"]) == ("stale", "red", "D")
