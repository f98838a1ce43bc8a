"""A verifier never trusts a token it cannot check: every bad token is a normal, audited answer."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event, select

from app.accounts.domain import Role
from app.codes.models import Verification
from app.extensions import db


def _b64(data: dict | bytes) -> str:
    """Unpadded base64url of raw bytes, or of a dict as JSON (a token segment)."""
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _verify(client, headers, token):
    response = client.post("/api/v1/verifications", json={"token": token}, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


@pytest.fixture
def issued(factory, client):
    uscc, headers = factory.as_taxpayer("A")
    body = client.get("/api/v1/me/code", headers=headers).json
    return uscc, body["token"]


def test_tampered_claims_fail_with_bad_signature(factory, client, issued):
    _uscc, token = issued
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["grade"], claims["color"] = "A", "gold"
    claims["sub"] = claims["sub"][:-1] + ("0" if claims["sub"][-1] != "0" else "1")
    result = _verify(client, factory.as_clerk(), ".".join([header, _b64(claims), signature]))
    assert (result["valid"], result["reason"], result["taxpayer"], result["privileges"]) == (
        False, "bad_signature", None, [])


def _keyring(app):
    return app.extensions["shuima.services"].keyring


def _opened(app, token: str) -> str | None:
    """The USCC the service reads in ``token``'s subject."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return app.extensions["shuima.services"].subjects.open(claims["sub"], jti=claims["jti"])


def _sealed(app, uscc: str, token: str) -> str:
    """A subject naming ``uscc`` in the code ``token`` (sealed with its ``jti``)."""
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    return app.extensions["shuima.services"].subjects.seal(uscc, jti=jti)


def _signed(app, token: str, **changes: object) -> str:
    """``token`` with ``changes`` to its claims, signed again with the service's own key."""
    claims = jwt.decode(token, options={"verify_signature": False}) | changes
    key = _keyring(app).signing_key()
    return jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})


def test_tampering_with_the_code_we_hold_for_that_taxpayer_is_still_bad_signature(app, factory, client, issued):
    # Same subject, so the verifier finds this taxpayer's cached code: the bytes differ, the signature decides.
    uscc, token = issued
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    assert _opened(app, token) == uscc
    claims["exp"] += 3600
    result = _verify(client, factory.as_clerk(), ".".join([header, _b64(claims), signature]))
    assert (result["valid"], result["reason"]) == (False, "bad_signature")


def test_the_code_we_hold_is_not_signature_checked_again_any_other_token_is(app, factory, client, issued, monkeypatch):
    # The shortcut of app.codes.jws, through the route: count the Ed25519 checks the keyring's keys make.
    keyring = app.extensions["shuima.services"].keyring
    published, checks = keyring.public_key, []

    class Counting:
        def __init__(self, key):
            self.key = key

        def verify(self, signature, data):
            checks.append(1)
            return self.key.verify(signature, data)

    monkeypatch.setattr(keyring, "public_key", lambda kid: (key := published(kid)) and Counting(key))
    uscc, token = issued
    clerk = factory.as_clerk()
    assert _verify(client, clerk, token)["reason"] == "ok"
    assert checks == []  # byte for byte the code this service holds for the taxpayer
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["exp"] += 3600
    assert _verify(client, clerk, ".".join([header, _b64(claims), signature]))["reason"] == "bad_signature"
    assert checks == [1]


def test_an_earlier_code_still_in_its_lifetime_verifies_by_its_signature(factory, client, clock):
    _uscc, headers = factory.as_taxpayer("B")
    first = client.get("/api/v1/me/code", headers=headers).json["token"]
    clock.advance(seconds=56)  # past the refresh point: the phone gets a new code, the old one is still valid
    second = client.get("/api/v1/me/code", headers=headers).json["token"]
    assert second != first
    clerk = factory.as_clerk()
    assert [(r["valid"], r["reason"], r["color"]) for r in (_verify(client, clerk, first), _verify(client, clerk, second))] \
        == [(True, "ok", "silver")] * 2


def test_expired_code_fails_after_lifetime_plus_leeway(factory, client, clock, issued):
    _uscc, token = issued
    clerk = factory.as_clerk()
    clock.advance(seconds=64)  # 60 s lifetime + 5 s leeway not yet over
    assert _verify(client, clerk, token)["reason"] == "ok"
    clock.advance(seconds=2)
    result = _verify(client, clerk, token)
    assert (result["valid"], result["reason"], result["grade"]) == (False, "expired", None)


def test_token_signed_by_a_foreign_key_is_unknown_key(factory, client, issued):
    uscc, token = issued
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "not-ours"})
    assert _verify(client, factory.as_clerk(), forged)["reason"] == "unknown_key"


def test_foreign_key_reusing_our_kid_is_bad_signature(factory, client, issued):
    _uscc, token = issued
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": header["kid"]})
    assert _verify(client, factory.as_clerk(), forged)["reason"] == "bad_signature"


# JSON nested deeper than the decoder recurses (a RecursionError, not a ValueError), in header and payload
_NESTED = _b64(b"[" * 2500)


@pytest.mark.parametrize("garbage", ["", "not a token", "a.b.c", "....", "eyJhbGciOiJub25lIn0.e30.", "🙂" * 50,
                                     _b64({"alg": "HS256", "kid": "x"}) + "." + _b64({"sub": "1"}) + ".sig",
                                     f"{_NESTED}.{_b64({'sub': '1'})}.c2ln",
                                     f"{_b64({'alg': 'HS256', 'kid': 'x'})}.{_NESTED}.c2ln"])
def test_garbage_is_malformed_never_a_server_error(factory, client, garbage):
    response = client.post("/api/v1/verifications", json={"token": garbage}, headers=factory.as_clerk())
    if garbage == "":
        assert response.status_code == 422 and "token" in response.json["errors"]
    else:
        assert response.status_code == 200 and response.json["reason"] == "malformed"
        assert response.json["valid"] is False


def test_signed_token_for_a_taxpayer_we_do_not_know_is_unknown_taxpayer(app, factory, client, issued):
    _uscc, token = issued
    forged = _signed(app, token, sub=_sealed(app, "91350100M000100Y43", token))
    result = _verify(client, factory.as_clerk(), forged)
    assert (result["valid"], result["reason"], result["taxpayer"]) == (False, "unknown_taxpayer", None)


@pytest.mark.parametrize("subject", ["plain", "sealed elsewhere", "of another code"])
def test_signed_token_whose_subject_we_did_not_seal_for_it_names_nobody(app, factory, client, clock, issued,
                                                                        subject):
    # A plain USCC (how codes named taxpayers before subjects were sealed), one sealed under another
    # secret, or the real subject of another code of the same taxpayer: the signature is ours, but the
    # subject does not open, so no taxpayer is read, shown or audited.
    from app.codes.subjects import SubjectSeal

    uscc, token = issued
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    if subject == "plain":
        sub = uscc
    elif subject == "sealed elsewhere":
        sub = SubjectSeal("another deployment's secret").seal(uscc, jti=jti)
    else:
        clock.advance(seconds=60)  # the next code
        later = client.get("/api/v1/me/code", headers=factory.login(factory.user(Role.TAXPAYER, uscc=uscc))).json
        sub = jwt.decode(later["token"], options={"verify_signature": False})["sub"]
        assert _opened(app, later["token"]) == uscc
    result = _verify(client, factory.as_clerk(), _signed(app, token, sub=sub))
    assert (result["valid"], result["reason"], result["taxpayer"], result["color"]) == (
        False, "unknown_taxpayer", None, None)
    with app.app_context(), db.session() as session:
        assert session.scalars(select(Verification.uscc).order_by(Verification.id.desc())).first() is None


def test_the_token_shows_no_full_identifier_and_each_code_another_subject(app, client, factory, clock, issued):
    # DOMAIN.md §1: a bank clerk never sees a full USCC, and a scanner reads the whole QR payload;
    # §4: no bank can follow a taxpayer from code to code (or from bank to bank) by its subject.
    uscc, token = issued
    claims = jwt.decode(token, options={"verify_signature": False})
    assert uscc not in json.dumps(claims) and _opened(app, token) == uscc
    clock.advance(seconds=60)
    again = client.get("/api/v1/me/code", headers=factory.login(factory.user(Role.TAXPAYER, uscc=uscc))).json["token"]
    assert jwt.decode(again, options={"verify_signature": False})["sub"] != claims["sub"]
    assert _opened(app, again) == uscc
    other_uscc, other = factory.as_taxpayer("B")
    assert _opened(app, client.get("/api/v1/me/code", headers=other).json["token"]) == other_uscc


def test_the_audit_names_a_taxpayer_only_from_a_signed_subject(app, factory, client, clock, issued):
    # A forged token carrying the victim's real subject is audited without a taxpayer and never
    # shows up in the victim's own list; an expired code of ours is audited with its taxpayer.
    uscc, token = issued
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    clerk = factory.as_clerk("BANK-F")
    forged = ".".join([header, _b64(claims | {"grade": "A", "exp": claims["exp"] + 3600}), signature])
    assert _verify(client, clerk, forged)["reason"] == "bad_signature"
    clock.advance(seconds=600)
    assert _verify(client, clerk, token)["reason"] == "expired"
    with app.app_context(), db.session() as session:
        rows = session.execute(select(Verification.reason, Verification.uscc).order_by(Verification.id)).all()
    assert [tuple(r) for r in rows] == [("bad_signature", None), ("expired", uscc)]
    mine = client.get("/api/v1/me/verifications", headers=factory.login(factory.user(Role.TAXPAYER, uscc=uscc))).json
    assert [r["reason"] for r in mine] == ["expired"]


def test_token_verifies_offline_with_the_public_jwks_through_pyjwt(app, client, issued):
    uscc, token = issued
    jwks = client.get("/.well-known/jwks.json").json
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    claims = jwt.decode(token, key.key, algorithms=["EdDSA"], options={"verify_exp": False})
    assert claims["color"] == "gold" and claims["grade"] == "A" and claims["iss"]
    assert {"iat", "exp", "jti", "state", "sub"} <= claims.keys()
    assert "name" not in claims and all("公司" not in str(v) and uscc not in str(v) for v in claims.values())


def test_every_verification_is_audited_and_listed_for_the_bank_only(factory, client, issued):
    uscc, token = issued
    clerk_a, clerk_b = factory.as_clerk("BANK-A"), factory.as_clerk("BANK-B")
    _verify(client, clerk_a, token)
    _verify(client, clerk_a, "garbage")
    listing = client.get("/api/v1/verifications", headers=clerk_a)
    assert [r["reason"] for r in listing.json] == ["malformed", "ok"]
    assert listing.json[1]["uscc"] == uscc[:4] + "*" * 12 + uscc[-2:]
    assert client.get("/api/v1/verifications", headers=clerk_b).json == []


def test_taxpayer_sees_which_banks_verified_its_code(factory, client):
    _uscc, headers = factory.as_taxpayer("B")
    token = client.get("/api/v1/me/code", headers=headers).json["token"]
    _verify(client, factory.as_clerk("BANK-Z"), token)
    rows = client.get("/api/v1/me/verifications", headers=headers).json
    assert [(r["bank_code"], r["valid"], r["color"]) for r in rows] == [("BANK-Z", True, "silver")]


def test_audit_records_cannot_be_edited_or_deleted_through_the_api(factory, client, issued):
    _uscc, token = issued
    clerk = factory.as_clerk()
    _verify(client, clerk, token)
    record_id = client.get("/api/v1/verifications", headers=clerk).json[0]["id"]
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(f"/api/v1/verifications/{record_id}", headers=clerk).status_code in (404, 405)
        assert getattr(client, method)("/api/v1/verifications", headers=clerk).status_code == 405


def _count_sql(app, action):
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement.split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return statements


def test_warm_code_fetch_makes_no_sql_query(app, factory, client):
    _uscc, headers = factory.as_taxpayer("A")
    client.get("/api/v1/me/code", headers=headers)  # warms status, code and keyring
    statements = _count_sql(app, lambda: client.get("/api/v1/me/code", headers=headers))
    assert statements == []


def test_warm_verification_makes_only_the_audit_insert(app, factory, client, issued):
    _uscc, token = issued
    clerk = factory.as_clerk()
    _verify(client, clerk, token)
    statements = _count_sql(app, lambda: _verify(client, clerk, token))
    assert [s for s in statements if s not in {"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"}] == ["INSERT"]
    with app.app_context():
        with db.session() as session:
            assert len(session.scalars(select(Verification)).all()) == 2


def test_clerk_verifications_are_rate_limited(app, factory, client, issued):
    _uscc, token = issued
    app.extensions["shuima.services"].code_settings = app.extensions["shuima.services"].code_settings.__class__(
        **{**app.extensions["shuima.services"].code_settings.__dict__, "verify_limit": "3 per 1 minute"})
    clerk = factory.as_clerk()
    for _ in range(3):
        _verify(client, clerk, token)
    response = client.post("/api/v1/verifications", json={"token": token}, headers=clerk)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert response.json["code"] == 429 and "verifications" in response.json["message"]
    assert client.post("/api/v1/verifications", json={"token": token}, headers=factory.as_clerk()).status_code == 200


def test_codes_and_verifications_keep_working_while_redis_is_down(app, factory, client):
    from app.extensions import make_redis_client
    from app.ratelimit import RateLimiter

    uscc, headers = factory.as_taxpayer("B")
    clerk = factory.as_clerk()
    s = app.extensions["shuima.services"]
    dead = make_redis_client("redis://127.0.0.1:1/0")
    live_redis, live_limiter = s.status_cache.redis, s.limiter
    # Every Redis the two routes touch: the caches, and the limiter whose round trip also reads
    # the verification's status and held code.
    s.status_cache.redis = s.codes.redis = dead
    s.limiter = RateLimiter(dead)
    try:
        code = client.get("/api/v1/me/code", headers=headers)
        assert code.status_code == 200 and code.json["color"] == "silver"
        assert client.get("/api/v1/me/code.png", headers=headers).status_code == 200
        result = _verify(client, clerk, code.json["token"])
        assert (result["valid"], result["color"]) == (True, "silver")
    finally:
        s.status_cache.redis = s.codes.redis = live_redis
        s.limiter = live_limiter


def test_a_code_held_in_an_earlier_format_is_issued_again_not_served(app, factory, client):
    # Codes held in Redis when a release changes the token (format 1 named the taxpayer by its plain
    # USCC) are misses: the next fetch signs a new code, and that one verifies.
    from app.codes.cache import CachedCode
    from app.taxpayers.cache import tp_key

    uscc, headers = factory.as_taxpayer("M")
    first = client.get("/api/v1/me/code", headers=headers).json
    redis = app.extensions["shuima.services"].codes.redis
    entry = json.loads(redis.get(tp_key(uscc, "code")))
    assert entry.pop("fmt") == 2
    redis.set(tp_key(uscc, "code"), json.dumps(entry), px=60_000)
    assert CachedCode.loads(json.dumps(entry)) is None and CachedCode.token_in(json.dumps(entry)) is None
    again = client.get("/api/v1/me/code", headers=headers).json
    assert again["token"] != first["token"]
    assert (_verify(client, factory.as_clerk(), again["token"])["reason"]) == "ok"
