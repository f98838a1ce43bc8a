"""Access tokens: verified once per process, expiry judged at every read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
import pytest

from app.accounts.domain import Principal, Role
from app.accounts.security import AccessTokens

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)
CLERK = Principal(7, "clerk7", Role.CLERK, bank_id=3)


def _tokens(**kwargs: object) -> AccessTokens:
    return AccessTokens(secret="s" * 40, ttl=timedelta(hours=1), issuer="https://shuima.example.cn", **kwargs)


def test_a_remembered_token_still_expires_at_its_exp():
    tokens = _tokens()
    token = tokens.issue(CLERK, now=NOW)
    assert tokens.read(token, now=NOW) == CLERK  # verified and remembered
    assert tokens.read(token, now=NOW + timedelta(minutes=59, seconds=59)) == CLERK
    with pytest.raises(jwt.ExpiredSignatureError):
        tokens.read(token, now=NOW + timedelta(hours=1))


def test_a_token_read_first_after_expiry_is_refused():
    tokens = _tokens()
    token = tokens.issue(CLERK, now=NOW)
    with pytest.raises(jwt.ExpiredSignatureError):
        tokens.read(token, now=NOW + timedelta(hours=2))
    assert tokens.read(token, now=NOW) == CLERK


def test_a_forged_token_is_refused_every_time():
    tokens, forger = _tokens(), AccessTokens(secret="f" * 40, ttl=timedelta(hours=1),
                                             issuer="https://shuima.example.cn")
    forged = forger.issue(CLERK, now=NOW)
    for _ in range(2):
        with pytest.raises(jwt.InvalidSignatureError):
            tokens.read(forged, now=NOW)


def test_the_memory_of_verified_tokens_is_bounded():
    tokens = _tokens(cache_size=2)
    issued = [tokens.issue(Principal(i, f"u{i}", Role.TAXPAYER, uscc="91330200MA2AAAAA1X"), now=NOW)
              for i in range(5)]
    assert [tokens.read(t, now=NOW).user_id for t in issued] == [0, 1, 2, 3, 4]
    assert len(tokens._verified) == 2
    assert tokens.read(issued[0], now=NOW).user_id == 0  # evicted ones verify again


def test_passwords_are_stored_as_salted_argon2id_hashes():
    from app.accounts.security import Passwords

    passwords = Passwords(time_cost=1, memory_cost=64)
    first, second = passwords.hash("correct horse"), passwords.hash("correct horse")
    assert first.startswith("$argon2id$") and first != second  # a fresh salt each time
    assert passwords.verify(first, "correct horse") and not passwords.verify(first, "wrong horse")
    assert not passwords.verify(None, "correct horse")  # unknown user: checked against the dummy, refused


def test_the_first_log_in_of_a_process_costs_as_many_argon2_runs_for_an_unknown_name_as_for_a_known_one():
    from argon2 import PasswordHasher

    from app.accounts.security import Passwords

    class Counting(PasswordHasher):
        runs = 0

        def hash(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            Counting.runs += 1
            return super().hash(*args, **kwargs)

        def verify(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            Counting.runs += 1
            return super().verify(*args, **kwargs)

    stored = Passwords(time_cost=1, memory_cost=64).hash("correct horse")
    runs = {}
    for name, password_hash in (("known", stored), ("unknown", None)):
        fresh = Passwords(time_cost=1, memory_cost=64)  # a new process: no dummy hash made yet
        fresh._hasher = Counting(time_cost=1, memory_cost=64)
        Counting.runs = 0
        fresh.verify(password_hash, "correct horse")
        runs[name] = Counting.runs
    assert runs["known"] == runs["unknown"] == 2  # the dummy is made on the first log-in either way


def _signed(claims: dict) -> str:
    return jwt.encode(claims, "s" * 40, algorithm="HS256")


def test_an_access_and_a_refresh_token_are_each_read_for_their_own_audience_only():
    tokens = _tokens()
    access = tokens.issue(CLERK, now=NOW)
    refresh = tokens.issue_refresh(CLERK, version=0, session="s1", now=NOW)
    # Even with every claim of the other kind, the audience decides.
    as_refresh = jwt.decode(refresh, options={"verify_signature": False}) | CLERK.to_claims()
    as_access = jwt.decode(access, options={"verify_signature": False})
    with pytest.raises(jwt.InvalidAudienceError):
        tokens.read(_signed(as_refresh), now=NOW)
    with pytest.raises(jwt.InvalidAudienceError):
        tokens.read_refresh(_signed(as_access | {"usr": "clerk7", "ver": 0, "jti": "s1"}), now=NOW)
    assert tokens.read_refresh(refresh, now=NOW).user_id == 7 and tokens.read(access, now=NOW) == CLERK


def test_a_refresh_token_lives_exactly_its_refresh_ttl():
    tokens = _tokens(refresh_ttl=timedelta(days=7))
    refresh = tokens.issue_refresh(CLERK, version=2, session="s1", now=NOW)
    claims = tokens.read_refresh(refresh, now=NOW + timedelta(days=7) - timedelta(seconds=1))
    assert (claims.user_id, claims.username, claims.version, claims.session) == (7, "clerk7", 2, "s1")
    with pytest.raises(jwt.ExpiredSignatureError):
        tokens.read_refresh(refresh, now=NOW + timedelta(days=7))


@pytest.mark.parametrize("changes", [
    {"sub": "²"}, {"sub": "١"}, {"sub": "9" * 30}, {"sub": "007"}, {"sub": "-7"}, {"sub": 7},
    {"ver": True}, {"ver": "0"}, {"exp": float(NOW.timestamp() + 60)}, {"usr": None}, {"jti": None},
    {"jti": ""}, {"jti": "x" * 33}])
def test_a_signed_refresh_token_with_claims_of_the_wrong_shape_is_refused(changes):
    # Only the holder of the secret can sign these; they must still be an answer, never a crash.
    tokens = _tokens()
    claims = jwt.decode(tokens.issue_refresh(CLERK, version=0, session="s1", now=NOW), options={"verify_signature": False})
    with pytest.raises(jwt.InvalidTokenError):
        tokens.read_refresh(_signed(claims | changes), now=NOW)


def test_an_access_token_of_an_ended_log_in_is_refused_and_one_without_a_log_in_is_judged_by_version():
    class Ended:
        def refuses(self, user_id, version, session, *, now):
            return session == "ended"

    tokens = _tokens(revocations=Ended())
    with pytest.raises(jwt.InvalidTokenError):
        tokens.read(tokens.issue(CLERK, now=NOW, session="ended"), now=NOW)
    assert tokens.read(tokens.issue(CLERK, now=NOW, session="live"), now=NOW) == CLERK
    assert tokens.read(tokens.issue(CLERK, now=NOW), now=NOW) == CLERK  # issued before log-ins had sessions
    odd = jwt.decode(tokens.issue(CLERK, now=NOW), options={"verify_signature": False}) | {"sid": 5}
    with pytest.raises(jwt.InvalidTokenError):
        tokens.read(_signed(odd), now=NOW)
