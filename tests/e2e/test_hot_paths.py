"""The two hot routes answer by hand-built JSON: same fields and formats as their documented schemas."""

from __future__ import annotations

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
