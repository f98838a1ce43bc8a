"""A deactivated account can neither log in nor keep using the access tokens it already holds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import OperationalError

from app.accounts.models import User
from app.accounts.security import Revocations
from app.cli import cli
from app.extensions import db
from tests.factories import Factory


def run(app, *args: str):
    return app.test_cli_runner().invoke(cli, list(args))


def _login(client, username: str):
    return client.post("/api/v1/auth/token", json={"username": username, "password": Factory.PASSWORD})


def test_a_deactivated_clerk_is_refused_at_log_in_at_once_and_with_its_live_token_within_the_refresh(
        app, factory, client, clock):
    from app.accounts.domain import Role

    clerk = factory.user(Role.CLERK, bank_code="BANK1", bank_name="一号银行")
    headers = factory.login(clerk)
    assert client.get("/api/v1/verifications", headers=headers).status_code == 200
    result = run(app, "users", "deactivate", clerk)
    assert result.exit_code == 0 and "deactivated" in result.output and "10 s" in result.output, result.output
    assert _login(client, clerk).status_code == 401
    clock.advance(seconds=10)  # every process reads the deactivations again within REVOCATION_REFRESH_SECONDS
    refused = client.get("/api/v1/verifications", headers=headers)
    assert refused.status_code == 401 and "access token" in refused.json["message"]
    # Reactivated: it logs in again, but the token it held before stays refused.
    assert run(app, "users", "activate", clerk).exit_code == 0
    clock.advance(seconds=1)
    fresh = {"Authorization": f"Bearer {_login(client, clerk).json['access_token']}"}
    assert client.get("/api/v1/verifications", headers=fresh).status_code == 200
    assert client.get("/api/v1/verifications", headers=headers).status_code == 401


def test_a_deactivated_taxpayer_gets_no_code_from_the_front_either(app, factory, client, clock):
    from app.accounts.domain import Role

    uscc = factory.taxpayer("A")
    username = factory.user(Role.TAXPAYER, uscc=uscc)
    headers = factory.login(username)
    assert client.get("/api/v1/me/code", headers=headers).status_code == 200  # answered in front of Flask
    assert run(app, "users", "deactivate", username).exit_code == 0
    clock.advance(seconds=10)
    assert client.get("/api/v1/me/code", headers=headers).status_code == 401
    assert client.get("/api/v1/me/code.png", headers=headers).status_code == 401


def test_deactivating_twice_keeps_the_first_time_and_an_unknown_user_is_an_error(app, factory, clock):
    from app.accounts.domain import Role

    username = factory.user(Role.TAX_ADMIN)
    first = clock.now()
    assert run(app, "users", "deactivate", username).exit_code == 0
    clock.advance(minutes=5)
    assert run(app, "users", "deactivate", username).exit_code == 0
    with app.app_context(), db.session() as session:
        user = session.query(User).filter_by(username=username).one()
        assert (user.active, user.deactivated_at) == (False, first)
    unknown = run(app, "users", "deactivate", "nobody")
    assert unknown.exit_code != 0 and "no user 'nobody'" in unknown.output


def test_while_the_database_cannot_be_read_the_last_list_stays_and_is_read_again_only_after_the_refresh(caplog):
    now = datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc)
    deactivated = now - timedelta(minutes=1)
    reads: list[str] = []

    class Rows:
        def __init__(self, outcome):
            self.outcome = outcome

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, _statement):
            reads.append(self.outcome)
            if self.outcome == "down":
                raise OperationalError("SELECT", {}, Exception("connection refused"))
            return type("Result", (), {"all": lambda _self: [type("Row", (), {"id": 7, "deactivated_at": deactivated})]})()

    outcomes = iter(["up", "down", "up"])
    revocations = Revocations(session_factory=lambda: Rows(next(outcomes)), ttl=timedelta(hours=1),
                              refresh=timedelta(seconds=10))
    cut = int(deactivated.timestamp())
    assert revocations.cut_off(7, now) == cut and revocations.cut_off(8, now) is None
    assert revocations.cut_off(7, now + timedelta(seconds=10)) == cut  # the read fails: the list stays
    assert "could not read deactivated accounts" in caplog.text
    assert revocations.cut_off(7, now + timedelta(seconds=15)) == cut and reads == ["up", "down"]  # not retried yet
    assert revocations.cut_off(7, now + timedelta(seconds=20)) == cut and reads == ["up", "down", "up"]


@pytest.mark.parametrize("iat_offset, refused", [(-3600, True), (0, True), (1, False)])
def test_tokens_issued_up_to_the_second_of_the_deactivation_are_refused(iat_offset, refused):
    import jwt

    from app.accounts.domain import Principal, Role
    from app.accounts.security import AccessTokens

    at = datetime(2026, 11, 26, 8, 0, 0, 500_000, tzinfo=timezone.utc)

    class OneDeactivation:
        def cut_off(self, user_id, now):
            return int(at.timestamp()) if user_id == 7 else None

    tokens = AccessTokens(secret="s" * 32, ttl=timedelta(hours=2), issuer="i", revocations=OneDeactivation())
    issued = tokens.issue(Principal(7, "clerk7", Role.CLERK, bank_id=1), now=at.replace(microsecond=0)
                          + timedelta(seconds=iat_offset))
    later = at + timedelta(minutes=1)
    if refused:
        with pytest.raises(jwt.InvalidTokenError):
            tokens.read(issued, now=later)
    else:
        assert tokens.read(issued, now=later).user_id == 7
    other = tokens.issue(Principal(8, "clerk8", Role.CLERK, bank_id=1), now=at - timedelta(hours=1))
    assert tokens.read(other, now=later).user_id == 8
