"""A deactivated account can neither log in nor keep using the access tokens it already holds."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from app.accounts.domain import Principal, Role
from app.accounts.models import User
from app.accounts.security import AccessTokens, Revocations
from app.cli import cli
from app.extensions import db
from tests.factories import Factory

REFRESH = timedelta(seconds=10)  # REVOCATION_REFRESH_SECONDS


def run(app, *args: str):
    return app.test_cli_runner().invoke(cli, list(args))


def _login(client, username: str):
    """A log-in attempt, whatever it answers."""
    return client.post("/api/v1/auth/token", json={"username": username, "password": Factory.PASSWORD})


@pytest.fixture
def clerk(factory) -> str:
    return factory.user(Role.CLERK, bank_code="BANK1", bank_name="一号银行")


def test_a_deactivated_clerk_is_refused_at_log_in_at_once_and_with_its_live_token_within_the_refresh(
        factory, app, client, clock, clerk):
    headers = factory.login(clerk)
    assert client.get("/api/v1/verifications", headers=headers).status_code == 200
    result = run(app, "users", "deactivate", clerk)
    assert result.exit_code == 0 and "log-ins are refused now, its access tokens within 10 s" in result.output
    refused = _login(client, clerk)  # the right password: told why, not "wrong password"
    assert refused.status_code == 403 and "deactivated" in refused.json["message"]
    assert _login(client, clerk + "x").status_code == 401
    assert client.get("/api/v1/verifications", headers=headers).status_code == 200  # until the next read
    clock.advance(seconds=10)
    gone = client.get("/api/v1/verifications", headers=headers)
    assert gone.status_code == 401 and "access token" in gone.json["message"]
    # Reactivated: it logs in again, the token it held before stays refused.
    result = run(app, "users", "activate", clerk)
    assert result.exit_code == 0 and "must log in again" in result.output
    fresh = factory.login(clerk)
    clock.advance(seconds=10)  # the list read again after the reactivation
    assert client.get("/api/v1/verifications", headers=fresh).status_code == 200
    assert client.get("/api/v1/verifications", headers=headers).status_code == 401


def test_a_deactivated_taxpayer_gets_no_code_from_the_front_either(app, factory, client, clock):
    username = factory.user(Role.TAXPAYER, uscc=factory.taxpayer("A"))
    headers = factory.login(username)
    assert client.get("/api/v1/me/code", headers=headers).status_code == 200  # answered in front of Flask
    assert run(app, "users", "deactivate", username).exit_code == 0
    clock.advance(seconds=10)
    assert client.get("/api/v1/me/code", headers=headers).status_code == 401
    assert client.get("/api/v1/me/code.png", headers=headers).status_code == 401


def test_a_log_in_that_read_the_account_before_the_deactivation_gets_a_token_that_is_refused(
        factory, app, client, clock, clerk, monkeypatch):
    # The deactivation commits while the log-in is hashing the password: the token it then issues
    # carries the version it read, which the deactivation raised.
    passwords = app.extensions["shuima.services"].passwords
    verify = passwords.verify

    def deactivated_meanwhile(*args):
        ok = verify(*args)
        assert run(app, "users", "deactivate", clerk).exit_code == 0
        return ok

    monkeypatch.setattr(passwords, "verify", deactivated_meanwhile)
    headers = factory.login(clerk)
    monkeypatch.setattr(passwords, "verify", verify)
    clock.advance(seconds=10)
    assert client.get("/api/v1/verifications", headers=headers).status_code == 401


def test_reactivated_in_the_same_second_its_new_token_works_and_a_second_deactivation_refuses_it(
        factory, app, client, clock, clerk):
    old = factory.login(clerk)
    assert run(app, "users", "deactivate", clerk).exit_code == 0
    assert run(app, "users", "activate", clerk).exit_code == 0  # no time passes
    new = factory.login(clerk)
    clock.advance(seconds=10)
    assert client.get("/api/v1/verifications", headers=new).status_code == 200
    assert client.get("/api/v1/verifications", headers=old).status_code == 401
    assert run(app, "users", "deactivate", clerk).exit_code == 0
    clock.advance(seconds=10)
    assert client.get("/api/v1/verifications", headers=new).status_code == 401


def test_asking_twice_changes_nothing_and_says_so_and_an_unknown_user_is_an_error(app, clock, clerk):
    first = clock.now()
    assert run(app, "users", "deactivate", clerk).exit_code == 0
    clock.advance(minutes=5)
    again = run(app, "users", "deactivate", clerk)
    assert again.exit_code == 0 and "already deactivated (since 2026-11-25 10:00, Beijing time)" in again.output
    with app.app_context(), db.session() as session:
        user = session.scalars(select(User).where(User.username == clerk)).one()
        assert (user.active, user.deactivated_at, user.token_version) == (False, first, 1)
    assert "is active again" in run(app, "users", "activate", clerk).output
    assert "is already active" in run(app, "users", "activate", clerk).output
    for command in ("deactivate", "activate"):
        unknown = run(app, "users", command, "nobody")
        assert unknown.exit_code != 0 and "no user 'nobody'" in unknown.output


def test_only_deactivations_within_the_token_lifetime_are_kept(app, clock, clerk):
    # An older deactivation's tokens have all expired; the list stays as small as the last hour's.
    revocations = Revocations(session_factory=db.session, clock=clock, ttl=timedelta(hours=1), refresh=REFRESH)
    assert run(app, "users", "deactivate", clerk).exit_code == 0
    with app.app_context(), db.session() as session:
        user_id = session.scalars(select(User.id).where(User.username == clerk)).one()
    assert revocations.refuses(user_id, 0, None, now=clock.now()) and not revocations.refuses(user_id, 1, None, now=clock.now())
    clock.advance(hours=1, minutes=5)  # the lifetime, and the margin for clocks ahead
    revocations.reload()
    assert not revocations.refuses(user_id, 0, None, now=clock.now())


def test_a_warm_code_fetch_reads_the_revocations_once_per_refresh_and_nothing_else(app, factory, client, clock):
    _uscc, headers = factory.as_taxpayer("A")
    client.get("/api/v1/me/code", headers=headers)  # warms status, code, keyring and the list
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        tables = [t for t in ("refresh_sessions", "users") if f" {t}" in statement]
        statements.append(" ".join([statement.split()[0].upper(), *tables[:1]]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        client.get("/api/v1/me/code", headers=headers)
        assert statements == []
        clock.advance(seconds=10)
        client.get("/api/v1/me/code", headers=headers)
        client.get("/api/v1/me/code", headers=headers)
        assert statements == ["SELECT users", "SELECT refresh_sessions"]
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


class _Database:
    """A session factory whose reads answer ``floors`` (and no ended log-in) or fail, in turn."""

    def __init__(self, *outcomes: dict[int, int] | None):
        self.outcomes, self.reads = list(outcomes), 0

    def __call__(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, _statement):
        self.reads += 1
        floors = self.outcomes.pop(0)
        if floors is None:
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return list(floors.items())

    def scalars(self, _statement):
        return []


def test_until_a_process_has_read_the_list_it_retries_every_second_then_keeps_the_last_one(clock, caplog):
    database = _Database(None, {7: 2}, None, {7: 3})
    revocations = Revocations(session_factory=database, clock=clock, ttl=timedelta(hours=1), refresh=REFRESH)

    def lowest() -> int:  # the lowest version of account 7 admitted
        return next(v for v in range(10) if not revocations.refuses(7, v, None, now=clock.now()))

    assert lowest() == 0
    assert "could not read the accounts whose tokens were revoked" in caplog.text
    assert lowest() == 0 and database.reads == 1  # not on every request
    clock.advance(seconds=1)
    assert lowest() == 2 and database.reads == 2
    clock.advance(seconds=10)
    assert lowest() == 2 and database.reads == 3  # failed: the last list stays
    clock.advance(seconds=1)
    assert lowest() == 2 and database.reads == 3  # and is read again after the refresh
    clock.advance(seconds=9)
    assert lowest() == 3 and database.reads == 4


@pytest.mark.parametrize("version, lowest, admitted", [
    (0, None, True), (0, 1, False), (1, 1, True), (2, 1, True), (None, 1, False), (None, None, True)])
def test_a_token_below_its_accounts_lowest_version_is_refused(clock, version, lowest, admitted):
    # None: a token issued before versions existed reads as version 0, the version every account began at.
    revocations = Revocations(session_factory=_Database({} if lowest is None else {7: lowest}), clock=clock,
                              ttl=timedelta(hours=1), refresh=REFRESH)
    tokens = AccessTokens(secret="s" * 32, ttl=timedelta(hours=1), issuer="i", revocations=revocations)
    now = clock.now()
    token = tokens.issue(Principal(7, "clerk7", Role.CLERK, bank_id=1), now=now, version=version or 0)
    if version is None:
        claims = jwt.decode(token, options={"verify_signature": False})
        del claims["ver"]
        token = jwt.encode(claims, "s" * 32, algorithm="HS256")
    if admitted:
        assert tokens.read(token, now=now).user_id == 7
    else:
        with pytest.raises(jwt.InvalidTokenError):
            tokens.read(token, now=now)
    other = tokens.issue(Principal(8, "clerk8", Role.CLERK, bank_id=1), now=now)
    assert tokens.read(other, now=now).user_id == 8


def test_while_the_database_stays_down_each_wait_doubles_up_to_two_minutes(clock):
    # An outage holds a request for the connect timeout at every try: ever more rarely.
    database = _Database({7: 2}, *[None] * 6)
    revocations = Revocations(session_factory=database, clock=clock, ttl=timedelta(hours=1), refresh=REFRESH)
    revocations.refuses(7, 0, None, now=clock.now())
    waits = []
    for _ in range(6):
        reads, waited = database.reads, 0
        while database.reads == reads:
            clock.advance(seconds=1)
            waited += 1
            assert revocations.refuses(7, 1, None, now=clock.now())  # the last list stays in force
        waits.append(waited)
    assert waits == [10, 10, 20, 40, 80, 120]
