"""The two hot routes answer by hand-built JSON: same fields and formats as their documented schemas;
the plain code fetch is answered in front of Flask (``app.codes.front``), everything else by Flask."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

import pytest
from flask import request_started

from app.codes.schemas import CodeSchema, VerificationResultSchema
from app.extensions import make_redis_client
from app.ratelimit import RateLimiter


def test_code_answer_has_exactly_the_documented_fields_in_local_time(factory, client):
    _uscc, headers = factory.as_taxpayer("A")
    body = client.get("/api/v1/me/code", headers=headers).json
    assert set(body) == set(CodeSchema().fields)
    assert body["issued_at"] == "2026-11-25T10:00:00+08:00" and body["expires_at"] == "2026-11-25T10:01:00+08:00"
    assert CodeSchema().load(body)["refresh_in"] == 55


def test_verification_answer_has_exactly_the_documented_fields(factory, client):
    uscc, headers = factory.as_taxpayer("B")
    token = client.get("/api/v1/me/code", headers=headers).json["token"]
    body = client.post("/api/v1/verifications", json={"token": token}, headers=factory.as_clerk()).json
    assert set(body) == set(VerificationResultSchema().fields)
    assert body["verified_at"] == "2026-11-25T10:00:00+08:00"
    assert body["taxpayer"]["uscc"] == uscc[:4] + "*" * 12 + uscc[-2:] and body["color"] == "silver"
    assert VerificationResultSchema().load(body)["valid"] is True


def test_unusual_verification_bodies_get_the_schemas_422(factory, client):
    clerk = factory.as_clerk()
    for body in ({"token": "x", "extra": 1}, {"token": 5}, {"token": "x" * 4097}, {}, ["token"]):
        response = client.post("/api/v1/verifications", json=body, headers=clerk)
        assert response.status_code == 422, body
        assert set(response.json) == {"code", "status", "message", "errors"} and response.json["errors"]
    response = client.post("/api/v1/verifications", data="token=x", headers=clerk)
    assert response.status_code == 422


def test_verifications_stay_limited_per_clerk_while_redis_is_unreachable(app, factory, client):
    _uscc, headers = factory.as_taxpayer("A")
    token = client.get("/api/v1/me/code", headers=headers).json["token"]
    s = app.extensions["shuima.services"]
    s.limiter = RateLimiter(make_redis_client("redis://127.0.0.1:1/0"))
    s.code_settings = s.code_settings.__class__(**{**s.code_settings.__dict__, "verify_limit": "2 per 1 minute"})
    clerk = factory.as_clerk()
    answers = [client.post("/api/v1/verifications", json={"token": token}, headers=clerk) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].json["reason"] == "ok" and int(answers[2].headers["Retry-After"]) >= 1


def test_verification_body_is_still_documented_by_its_schema(client):
    post = client.get("/openapi.json").json["paths"]["/api/v1/verifications"]["post"]
    assert post["requestBody"] == {"content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/VerifyRequest"}}}, "required": True}
    assert {"200", "422"} <= set(post["responses"])
    assert "VerifyRequest" in client.get("/openapi.json").json["components"]["schemas"]


@contextmanager
def _dispatched_by_flask(app) -> Iterator[list[str]]:
    """The paths of the requests Flask dispatched meanwhile (its ``request_started`` signal)."""
    paths: list[str] = []

    def record(sender, **extra):  # type: ignore[no-untyped-def]
        from flask import request

        paths.append(request.full_path)

    request_started.connect(record, app)
    try:
        yield paths
    finally:
        request_started.disconnect(record, app)


def test_the_plain_code_fetch_is_answered_in_front_of_flask_with_the_same_bytes(app, factory, client):
    _uscc, headers = factory.as_taxpayer("A")
    with _dispatched_by_flask(app) as flask_paths:
        front = client.get("/api/v1/me/code", headers=headers)
        by_flask = client.get("/api/v1/me/code?via=flask", headers=headers)  # a query string: Flask's
    assert flask_paths == ["/api/v1/me/code?via=flask"]
    assert front.status_code == by_flask.status_code == 200
    assert front.get_data() == by_flask.get_data()  # the same cached code, the same JSON text
    assert dict(front.headers) == dict(by_flask.headers)


@pytest.mark.parametrize("what, kwargs, status", [
    ("no bearer", {"headers": {}}, 401),
    ("a bad bearer", {"headers": {"Authorization": "Bearer nonsense"}}, 401),
    ("a clerk's bearer", {"clerk": True}, 403),
    ("a body", {"data": b"{}", "content_type": "application/json"}, 200),
    ("HEAD", {"method": "HEAD"}, 200),
    ("a chunked body", {"extra": {"Transfer-Encoding": "chunked"}}, 200),
])
def test_every_other_code_fetch_goes_to_flask_and_gets_its_usual_answer(app, factory, client, what, kwargs, status):
    _uscc, headers = factory.as_taxpayer("A")
    kwargs = dict(kwargs)  # the parameter set is shared between runs
    if kwargs.pop("clerk", False):
        headers = factory.as_clerk()
    method = kwargs.pop("method", "GET")
    headers = {**headers, **kwargs.pop("extra", {})}
    with _dispatched_by_flask(app) as flask_paths:
        response = client.open("/api/v1/me/code", method=method, **{"headers": headers, **kwargs})
    assert flask_paths == ["/api/v1/me/code?"], what
    assert response.status_code == status, what
    if status != 200:
        assert set(response.json) == {"code", "status", "message", "errors"}


def _caller(app, bearer: str):  # type: ignore[no-untyped-def]
    """The principal an access token names (``bearer``: the token or an ``Authorization`` value)."""
    s = app.extensions["shuima.services"]
    return s.tokens.read(bearer.removeprefix("Bearer "), now=s.clock.now())


def _counted(metric: str, client) -> float:  # type: ignore[no-untyped-def]
    lines = [x for x in client.get("/metrics").get_data(as_text=True).splitlines() if x.startswith(metric)]
    return float(lines[0].split()[-1]) if lines else 0.0


def test_an_error_of_the_use_case_is_answered_by_flask_without_running_it_again(app, factory, client, monkeypatch,
                                                                                caplog):
    """Flask's 500: its error shape, its log of the exception, one access line, the view's counter."""
    _uscc, headers = factory.as_taxpayer("A")
    codes = app.extensions["shuima.services"].codes
    calls = []

    def fails(uscc: str):  # type: ignore[no-untyped-def]
        calls.append(uscc)
        raise RuntimeError("the cache read failed")

    monkeypatch.setattr(codes, "read", fails)
    metric = 'shuima_http_requests_total{endpoint="codes.MyCode",method="GET",status="500"}'
    before = _counted(metric, client)
    with caplog.at_level(logging.INFO), _dispatched_by_flask(app) as flask_paths:
        response = client.get("/api/v1/me/code", headers=headers)
    assert response.status_code == 500 and set(response.json) == {"code", "status", "message", "errors"}
    assert len(calls) == 1 and flask_paths == []
    assert _counted(metric, client) == before + 1
    access = [r for r in caplog.records if r.name == "shuima.access" and r.path == "/api/v1/me/code"]
    assert [(r.status, r.role) for r in access] == [(500, "taxpayer")] and access[0].duration_ms >= 0
    (logged,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged.getMessage() == "Exception on /api/v1/me/code [GET]"
    traceback = logged.exc_text or logging.Formatter().formatException(logged.exc_info)  # type: ignore[arg-type]
    assert "RuntimeError: the cache read failed" in traceback


def test_a_domain_error_of_the_use_case_gets_its_handlers_answer_once(app, factory, client, monkeypatch):
    from app.codes import front
    from app.errors import NotFound

    _uscc, headers = factory.as_taxpayer("A")
    calls = []

    def no_record(uscc: str, services):  # type: ignore[no-untyped-def]
        calls.append(uscc)
        raise NotFound("no taxpayer record for 9133****")

    monkeypatch.setattr(front, "code_for", no_record)
    response = client.get("/api/v1/me/code", headers=headers)
    assert response.status_code == 404 and response.json["message"] == "no taxpayer record for 9133****"
    assert len(calls) == 1


def test_only_a_taxpayers_bearer_is_answered_in_front(app, factory, client):
    """Even a token of another role that names a USCC goes to Flask, which refuses it (403)."""
    from dataclasses import replace

    from app.accounts.domain import Role

    uscc, headers = factory.as_taxpayer("A")
    s = app.extensions["shuima.services"]
    clerk_with_uscc = s.tokens.issue(replace(_caller(app, headers["Authorization"]), role=Role.CLERK), now=s.clock.now())
    assert _caller(app, clerk_with_uscc).uscc == uscc
    with _dispatched_by_flask(app) as flask_paths:
        response = client.get("/api/v1/me/code", headers={"Authorization": f"Bearer {clerk_with_uscc}"})
    assert flask_paths == ["/api/v1/me/code?"] and response.status_code == 403


def test_a_bearer_the_front_accepted_is_refused_once_it_expires(app, factory, client, clock):
    _uscc, headers = factory.as_taxpayer("A")
    assert client.get("/api/v1/me/code", headers=headers).status_code == 200
    clock.advance(hours=2)
    with _dispatched_by_flask(app) as flask_paths:
        response = client.get("/api/v1/me/code", headers=headers)
    assert flask_paths == ["/api/v1/me/code?"] and response.status_code == 401


def test_the_front_writes_the_access_line_and_the_metrics_of_the_view(app, factory, client, caplog):
    _uscc, headers = factory.as_taxpayer("A")
    metric = 'shuima_http_requests_total{endpoint="codes.MyCode",method="GET",status="200"}'

    before = _counted(metric, client)
    with caplog.at_level(logging.INFO, logger="shuima.access"), _dispatched_by_flask(app) as flask_paths:
        client.get("/api/v1/me/code", headers=headers)
    assert flask_paths == []
    assert _counted(metric, client) == before + 1
    (record,) = [r for r in caplog.records if r.name == "shuima.access" and r.path == "/api/v1/me/code"]
    assert (record.method, record.path, record.status, record.role) == ("GET", "/api/v1/me/code", 200, "taxpayer")
    assert record.user_id == _caller(app, headers["Authorization"]).user_id
    assert record.duration_ms >= 0
