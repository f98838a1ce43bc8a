"""Log-in, throttling, and every route admitting only its roles."""

from __future__ import annotations

import re

import pytest

from app.accounts.domain import Role


def test_login_returns_bearer_token(factory, client):
    username = factory.user(Role.TAX_ADMIN)
    body = client.post("/api/v1/auth/token", json={"username": username, "password": factory.PASSWORD}).json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]


def test_wrong_password_and_unknown_user_get_the_same_401(factory, client):
    username = factory.user(Role.CLERK, bank_code="B1")
    wrong = client.post("/api/v1/auth/token", json={"username": username, "password": "nope-nope"})
    unknown = client.post("/api/v1/auth/token", json={"username": "ghost", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["message"] == unknown.json["message"] == "wrong username or password"


def test_failed_logins_are_throttled_per_username(factory, client):
    username = factory.user(Role.CLERK, bank_code="B1")
    for _ in range(5):
        assert client.post("/api/v1/auth/token", json={"username": username, "password": "x"}).status_code == 401
    blocked = client.post("/api/v1/auth/token", json={"username": username, "password": factory.PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    other = factory.user(Role.CLERK, bank_code="B1")
    assert client.post("/api/v1/auth/token", json={"username": other, "password": factory.PASSWORD}).status_code == 200


def test_successful_logins_never_use_up_the_limit_and_clear_earlier_failures(factory, client):
    """Each attempt takes a place before its hash (a burst cannot get more checked); a success gives
    it back, so a shared counter account logging in all day is never locked out."""
    username = factory.user(Role.CLERK, bank_code="B1")
    good, bad = {"username": username, "password": factory.PASSWORD}, {"username": username, "password": "x"}
    for _ in range(8):  # more than the 5 attempts the per-user limit allows
        assert client.post("/api/v1/auth/token", json=good).status_code == 200
    for _ in range(4):
        assert client.post("/api/v1/auth/token", json=bad).status_code == 401
    assert client.post("/api/v1/auth/token", json=good).status_code == 200  # clears the four failures
    for _ in range(4):
        assert client.post("/api/v1/auth/token", json=bad).status_code == 401  # still within the limit


def test_failed_logins_are_throttled_per_address(factory, client):
    for n in range(30):
        client.post("/api/v1/auth/token", json={"username": f"guess{n}", "password": "x"})
    username = factory.user(Role.TAX_ADMIN)
    response = client.post("/api/v1/auth/token", json={"username": username, "password": factory.PASSWORD})
    assert response.status_code == 429
    elsewhere = client.post("/api/v1/auth/token", json={"username": username, "password": factory.PASSWORD},
                            environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert elsewhere.status_code == 200


def test_missing_login_fields_are_named(client):
    response = client.post("/api/v1/auth/token", json={"username": "x"})
    assert response.status_code == 422
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert "password" in response.json["errors"]


def test_access_token_expires(factory, client, clock):
    _uscc, headers = factory.as_taxpayer("A")
    clock.advance(hours=1, seconds=1)
    response = client.get("/api/v1/me/code", headers=headers)
    assert response.status_code == 401 and response.json["message"] == "invalid or expired access token"


@pytest.mark.parametrize("method,url,body", [
    ("get", "/api/v1/me/code", None),
    ("get", "/api/v1/me/code.png", None),
    ("get", "/api/v1/me/verifications", None),
    ("post", "/api/v1/verifications", {"token": "x"}),
    ("get", "/api/v1/verifications", None),
    ("put", "/api/v1/taxpayers/91350100M000100Y43/grade", {"grade": "A", "year": 2025, "reason": "复评"}),
    ("get", "/api/v1/taxpayers/91350100M000100Y43", None),
])
def test_routes_without_a_token_answer_401(client, method, url, body):
    response = getattr(client, method)(url, json=body)
    assert response.status_code == 401 and response.json["code"] == 401


ROLE_MATRIX = [
    # (route, method, body, the only role admitted)
    ("/api/v1/me/code", "get", None, "taxpayer"),
    ("/api/v1/me/verifications", "get", None, "taxpayer"),
    ("/api/v1/verifications", "post", {"token": "x"}, "clerk"),
    ("/api/v1/verifications", "get", None, "clerk"),
    ("/api/v1/taxpayers/{uscc}/grade", "put", {"grade": "B", "year": 2025, "reason": "动态调整"}, "tax_admin"),
    ("/api/v1/taxpayers/{uscc}", "get", None, "tax_admin"),
]


def test_each_route_admits_only_its_roles(factory, client):
    uscc, taxpayer = factory.as_taxpayer("A")
    officer = factory.login(factory.user(Role.OFFICER, bank_code="B1", county_code="330283"))
    headers = {"taxpayer": taxpayer, "clerk": factory.as_clerk(), "tax_admin": factory.as_admin(), "officer": officer}
    for url, method, body, admitted in ROLE_MATRIX:
        for role, auth in headers.items():
            status = getattr(client, method)(url.format(uscc=uscc), json=body, headers=auth).status_code
            if role == admitted:
                assert status == 200, (url, role, status)
            else:
                assert status == 403, (url, role, status)


def test_taxpayer_only_ever_gets_its_own_code(app, factory, client):
    uscc_a, headers_a = factory.as_taxpayer("A")
    factory.as_taxpayer("D")
    token = client.get("/api/v1/me/code", headers=headers_a).json["token"]
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    assert app.extensions["shuima.services"].subjects.open(claims["sub"], jti=claims["jti"]) == uscc_a


OPEN_ROUTES = {("post", "/api/v1/auth/token"), ("post", "/api/v1/auth/refresh"), ("post", "/api/v1/auth/logout"),
               ("get", "/.well-known/jwks.json")}
PATH_VALUES = {"uscc": "91350100M000100Y43", "code": "330283"}


def test_every_route_in_the_openapi_document_names_its_roles_and_refuses_every_other_role(factory, client):
    _uscc, taxpayer = factory.as_taxpayer("A")
    headers = {
        "taxpayer": taxpayer, "clerk": factory.as_clerk(), "tax_admin": factory.as_admin(),
        "officer": factory.login(factory.user(Role.OFFICER, bank_code="B1", county_code="330283")),
        "rural_admin": factory.login(factory.user(Role.RURAL_ADMIN, county_code="330283")),
    }
    checked = 0
    for path, operations in client.get("/openapi.json").json["paths"].items():
        url = path
        for name, value in PATH_VALUES.items():
            url = url.replace(f"{{{name}}}", value)
        url = re.sub(r"\{\w+\}", "1", url)  # integer ids
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"} or (method, path) in OPEN_ROUTES:
                continue
            roles = operation.get("x-roles")
            assert roles and set(roles) <= set(headers), (method, path, roles)
            assert getattr(client, method)(url).status_code == 401, (method, path)
            for role in set(headers) - set(roles):
                response = getattr(client, method)(url, headers=headers[role], json={})
                assert response.status_code == 403, (method, path, role, response.status_code)
                checked += 1
    assert checked > 150


def test_a_burst_of_parallel_guesses_gets_no_more_passwords_checked_than_the_limit(app, factory):
    import threading
    import time

    from app.accounts.service import log_in
    from app.errors import RateLimited, Unauthenticated
    from app.services import services

    username = factory.user(Role.CLERK, bank_code="B1")
    checked: list[str] = []

    class SlowPasswords:  # the real hash takes ≈0.1 s: the window a burst used to slip through
        def verify(self, password_hash, password):  # type: ignore[no-untyped-def]
            checked.append(password)
            time.sleep(0.2)
            return False

    outcomes: list[str] = []
    start = threading.Barrier(10, timeout=30)

    def guess(n: int) -> None:
        with app.app_context():
            s = services()
            start.wait()
            try:
                log_in(username, f"guess-{n}", address=f"10.0.0.{n}", uow=s.uow(), passwords=SlowPasswords(),
                       tokens=s.tokens, limiter=s.limiter, limits=s.login_limits, clock=s.clock)
            except (RateLimited, Unauthenticated) as refused:
                outcomes.append(type(refused).__name__)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(checked) == 5  # LOGIN_FAILURES_PER_USER is 5 per 15 minutes
    assert sorted(outcomes) == ["RateLimited"] * 5 + ["Unauthenticated"] * 5
