"""The direct Ed25519 check gives exactly PyJWT's verdict on every token, ours or not."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.codes.domain import Verdict
from app.codes.jws import ScannedToken, check_token_pyjwt

ISSUER = "https://shuima.example.cn"
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)
KEY = Ed25519PrivateKey.generate()
KID = "kid-1"


def _b64(data: object) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(**changes: object) -> dict:
    iat = int(NOW.timestamp())
    claims = {"iss": ISSUER, "sub": "91330200MA2AAAAA1X", "grade": "A", "color": "gold", "state": "normal",
              "iat": iat, "exp": iat + 60, "jti": "j-1"} | changes
    return {k: v for k, v in claims.items() if v is not ...}


def _sign(claims: dict, *, key: Ed25519PrivateKey = KEY, headers: dict | None = None) -> str:
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": KID} if headers is None else headers)


def _tampered_payload(token: str) -> str:
    header, _payload, signature = token.split(".")
    return ".".join([header, _b64(_claims(grade="B")), signature])


def _raw_signed(header: dict, payload: bytes) -> str:
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    return f"{signing_input}.{_b64(KEY.sign(signing_input.encode()))}"


TOKENS = {
    "ours": _sign(_claims()),
    "expired after leeway": _sign(_claims(exp=int(NOW.timestamp()) - 6)),
    "within leeway": _sign(_claims(exp=int(NOW.timestamp()) - 4)),
    "float exp": _sign(_claims(exp=int(NOW.timestamp()) + 60.5)),
    "tampered payload": _tampered_payload(_sign(_claims())),
    "foreign key, our kid": _sign(_claims(), key=Ed25519PrivateKey.generate()),
    "unknown kid": _sign(_claims(), headers={"kid": "elsewhere"}),
    "no kid": _sign(_claims(), headers={}),
    "numeric kid": _raw_signed({"alg": "EdDSA", "kid": 7}, json.dumps(_claims()).encode()),
    "other issuer": _sign(_claims(iss="https://evil.example")),
    "missing jti": _sign(_claims(jti=...)),
    "null sub": _sign(_claims(sub=None)),
    "numeric jti": _sign(_claims(jti=5)),
    "future nbf (extra claim)": _sign(_claims(nbf=int(NOW.timestamp()) + 10**9)),
    "audience (extra claim)": _sign(_claims(aud="someone")),
    "crit header": _sign(_claims(), headers={"kid": KID, "crit": ["exp"]}),
    "payload not an object": _raw_signed({"alg": "EdDSA", "kid": KID}, b"[1, 2]"),
    "payload not json": _raw_signed({"alg": "EdDSA", "kid": KID}, b"\xff\xfe"),
    # JSON nested deeper than the decoder recurses: a RecursionError, not a ValueError
    "deeply nested payload": _raw_signed({"alg": "EdDSA", "kid": KID}, b"[" * 2500),
    "deeply nested header": f"{_b64(b'[' * 2500)}.{_b64(_claims())}.{_b64(b'x' * 64)}",
    "padded segments": _sign(_claims()).replace(".", "==.", 1),
    "HS256 header": jwt.encode(_claims(), "s" * 40, algorithm="HS256", headers={"kid": KID}),
    "garbage": "not a token",
    "three dots": "a.b.c",
    "bad base64 length": "a.bb.c",
    "non-alphabet": "e30.e30.!!!!",
    "empty segments": "..",
    "unicode": "🙂" * 10,
}



def check_token(token: str, **kwargs) -> tuple[Verdict, dict | None]:
    """What the verification use case does with a scanned token."""
    return ScannedToken(token).check(**kwargs)

@pytest.mark.parametrize("name", list(TOKENS))
def test_direct_check_gives_pyjwts_verdict_and_claims(name):
    kwargs = dict(public_key={KID: KEY.public_key()}.get, issuer=ISSUER, leeway=timedelta(seconds=5), now=NOW)
    assert check_token(TOKENS[name], **kwargs) == check_token_pyjwt(TOKENS[name], **kwargs)


@pytest.mark.parametrize("name,verdict", [
    ("ours", Verdict.OK), ("within leeway", Verdict.OK), ("expired after leeway", Verdict.EXPIRED),
    ("tampered payload", Verdict.BAD_SIGNATURE), ("foreign key, our kid", Verdict.BAD_SIGNATURE),
    ("unknown kid", Verdict.UNKNOWN_KEY), ("other issuer", Verdict.MALFORMED), ("garbage", Verdict.MALFORMED),
    ("deeply nested payload", Verdict.MALFORMED), ("deeply nested header", Verdict.MALFORMED),
])
def test_direct_check_verdicts(name, verdict):
    result, _claims_seen = check_token(TOKENS[name], public_key={KID: KEY.public_key()}.get, issuer=ISSUER,
                                       leeway=timedelta(seconds=5), now=NOW)
    assert result is verdict


class _CountingKey:
    """Our public key, counting the signature checks made with it."""

    def __init__(self) -> None:
        self.checks = 0

    def verify(self, signature: bytes, data: bytes) -> None:
        self.checks += 1
        KEY.public_key().verify(signature, data)


def _check(token: str, *, issued: str | None, keys: dict) -> tuple[Verdict, dict | None]:
    return check_token(token, public_key=keys.get, issuer=ISSUER, leeway=timedelta(seconds=5), now=NOW,
                       issued=issued)


def test_the_token_we_hold_needs_no_second_signature_check_and_gets_the_same_verdict():
    key = _CountingKey()
    token = TOKENS["ours"]
    assert _check(token, issued=token, keys={KID: key}) == _check(token, issued=None, keys={KID: KEY.public_key()})
    assert key.checks == 0
    assert _check(token, issued=TOKENS["within leeway"], keys={KID: key})[0] is Verdict.OK  # another code: checked
    assert key.checks == 1


@pytest.mark.parametrize("name,verdict", [
    ("tampered payload", Verdict.BAD_SIGNATURE), ("foreign key, our kid", Verdict.BAD_SIGNATURE),
])
def test_a_token_that_differs_from_the_one_we_hold_is_checked_with_its_signature(name, verdict):
    key = _CountingKey()
    assert _check(TOKENS[name], issued=TOKENS["ours"], keys={KID: key})[0] is verdict
    assert key.checks == 1


@pytest.mark.parametrize("name,verdict", [
    ("expired after leeway", Verdict.EXPIRED), ("unknown kid", Verdict.UNKNOWN_KEY), ("other issuer", Verdict.MALFORMED),
])
def test_the_token_we_hold_still_passes_every_other_check(name, verdict):
    assert _check(TOKENS[name], issued=TOKENS[name], keys={KID: _CountingKey()})[0] is verdict


def test_a_withdrawn_key_fails_even_the_token_we_hold():
    assert _check(TOKENS["ours"], issued=TOKENS["ours"], keys={})[0] is Verdict.UNKNOWN_KEY


@pytest.mark.parametrize("name,subject", [
    ("ours", "91330200MA2AAAAA1X"), ("null sub", None), ("payload not an object", None), ("garbage", None),
    ("payload not json", None), ("bad base64 length", None), ("unicode", None), ("deeply nested payload", None),
])
def test_unverified_subject_reads_the_sub_claim_of_our_shape_only(name, subject):
    assert ScannedToken(TOKENS[name]).subject == subject

