"""An app stays signed in: the refresh token renews the hour-long access token without the password."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from app.accounts.domain import Principal, Role
from app.cli import cli
from tests.factories import Factory, bearer as _bearer


def _refresh(client, refresh_token: str):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


@pytest.fixture
def taxpayer(factory) -> str:
    return factory.user(Role.TAXPAYER, uscc=factory.taxpayer("B"))


def test_after_the_access_token_expired_the_refresh_token_gets_a_new_one_without_the_password(
        factory, client, clock, taxpayer):
    grant = factory.grant(taxpayer)
    assert grant["expires_in"] == 3600 and grant["refresh_expires_in"] == 30 * 86400
    clock.advance(hours=1)
    assert client.get("/api/v1/me/code", headers=_bearer(grant["access_token"])).status_code == 401
    renewed = _refresh(client, grant["refresh_token"])
    assert renewed.status_code == 200 and set(renewed.json) == {"access_token", "token_type", "expires_in"}
    code = client.get("/api/v1/me/code", headers=_bearer(renewed.json["access_token"]))
    assert code.status_code == 200 and code.json["color"] == "silver"
    clock.advance(days=29, hours=22)  # still inside its 30 days
    assert _refresh(client, grant["refresh_token"]).status_code == 200
    clock.advance(hours=2)
    expired = _refresh(client, grant["refresh_token"])
    assert expired.status_code == 401 and "log in again" in expired.json["message"]


def test_a_refresh_token_is_not_an_access_token_nor_the_other_way_round(factory, client, taxpayer):
    grant = factory.grant(taxpayer)
    assert client.get("/api/v1/me/code", headers=_bearer(grant["refresh_token"])).status_code == 401
    assert _refresh(client, grant["access_token"]).status_code == 401
    header, payload, signature = grant["refresh_token"].split(".")
    assert _refresh(client, f"{header}.{payload}.{signature[::-1]}").status_code == 401
    assert _refresh(client, "garbage").status_code == 401
    missing = client.post("/api/v1/auth/refresh", json={})
    assert missing.status_code == 422 and "refresh_token" in missing.json["errors"]


def test_a_deactivated_accounts_refresh_token_is_refused_at_once_and_stays_refused(factory, app, client, taxpayer):
    grant = factory.grant(taxpayer)
    assert app.test_cli_runner().invoke(cli, ["users", "deactivate", taxpayer]).exit_code == 0
    refused = _refresh(client, grant["refresh_token"])  # no refresh interval: the exchange reads the account
    assert refused.status_code == 401 and "no longer valid" in refused.json["message"]
    assert app.test_cli_runner().invoke(cli, ["users", "activate", taxpayer]).exit_code == 0
    assert _refresh(client, grant["refresh_token"]).status_code == 401  # from before the deactivation
    assert _refresh(client, factory.grant(taxpayer)["refresh_token"]).status_code == 200


def test_the_renewed_token_is_an_hour_long_access_token_of_the_same_account(factory, client, taxpayer):
    grant = factory.grant(taxpayer)
    renewed = _refresh(client, grant["refresh_token"]).json["access_token"]
    claims = jwt.decode(renewed, options={"verify_signature": False})
    assert (claims["usr"], claims["role"], claims["ver"]) == (taxpayer, "taxpayer", 0)
    assert claims["exp"] - claims["iat"] == int(timedelta(hours=1).total_seconds())


def test_token_answers_are_never_stored_on_the_way(client, taxpayer):
    grant = client.post("/api/v1/auth/token", json={"username": taxpayer, "password": Factory.PASSWORD})
    renewed = _refresh(client, grant.json["refresh_token"])
    assert grant.headers["Cache-Control"] == renewed.headers["Cache-Control"] == "no-store"


def test_a_refresh_token_names_its_account_by_id_and_name(factory, app, client, clock, taxpayer):
    # Were the account's id ever given to another account (a database rebuilt under the same secret),
    # the token would not speak for the newcomer.
    claims = jwt.decode(factory.grant(taxpayer)["refresh_token"], options={"verify_signature": False})
    tokens = app.extensions["shuima.services"].tokens
    other = tokens.issue_refresh(Principal(int(claims["sub"]), "someone-else", Role.TAXPAYER), version=0,
                                 session=claims["jti"], now=clock.now())
    assert _refresh(client, other).status_code == 401


def test_the_refresh_lifetime_is_a_setting(app):
    from app.services import build_services

    app.config["REFRESH_TOKEN_TTL_SECONDS"] = 3 * 86400
    assert build_services(app).tokens.refresh_ttl == timedelta(days=3)


def _sign_out(client, refresh_token: str, **body):
    response = client.post("/api/v1/auth/logout", json={"refresh_token": refresh_token, **body})
    assert response.status_code == 204, response.json
    return response


def test_signing_out_ends_this_devices_log_in_only(factory, client, clock, taxpayer):
    phone, tablet = factory.grant(taxpayer), factory.grant(taxpayer)
    renewed = _refresh(client, phone["refresh_token"]).json["access_token"]
    _sign_out(client, phone["refresh_token"])
    gone = _refresh(client, phone["refresh_token"])
    assert gone.status_code == 401 and "log in again" in gone.json["message"]
    assert _refresh(client, tablet["refresh_token"]).status_code == 200
    # Its access tokens, the log-in's and the renewed one, go within REVOCATION_REFRESH_SECONDS.
    clock.advance(seconds=10)
    for token in (phone["access_token"], renewed):
        assert client.get("/api/v1/me/code", headers=_bearer(token)).status_code == 401
    assert client.get("/api/v1/me/code", headers=_bearer(tablet["access_token"])).status_code == 200
    _sign_out(client, phone["refresh_token"])  # twice: nothing to end, no error
    _sign_out(client, "garbage")  # nor is a token that names nothing told apart


def test_signing_out_everywhere_ends_every_log_in_and_soon_every_access_token(factory, client, clock, taxpayer):
    phone, tablet = factory.grant(taxpayer), factory.grant(taxpayer)
    _sign_out(client, phone["refresh_token"], everywhere=True)
    assert _refresh(client, tablet["refresh_token"]).status_code == 401
    clock.advance(seconds=10)  # REVOCATION_REFRESH_SECONDS
    assert client.get("/api/v1/me/code", headers=_bearer(tablet["access_token"])).status_code == 401
    again = factory.grant(taxpayer)  # a new log-in is not touched
    assert client.get("/api/v1/me/code", headers=_bearer(again["access_token"])).status_code == 200
    assert _refresh(client, again["refresh_token"]).status_code == 200


def test_a_signed_out_refresh_token_cannot_sign_the_account_out_everywhere(factory, client, taxpayer):
    # Only a live log-in speaks for the account: an old, signed-out token is no lever against it.
    old, current = factory.grant(taxpayer), factory.grant(taxpayer)
    _sign_out(client, old["refresh_token"])
    _sign_out(client, old["refresh_token"], everywhere=True)
    assert _refresh(client, current["refresh_token"]).status_code == 200


def test_sign_out_needs_a_refresh_token(client):
    missing = client.post("/api/v1/auth/logout", json={"everywhere": True})
    assert missing.status_code == 422 and "refresh_token" in missing.json["errors"]


def test_an_access_token_sent_to_sign_out_is_named_not_taken_for_a_sign_out(factory, client, taxpayer):
    grant = factory.grant(taxpayer)
    wrong = client.post("/api/v1/auth/logout", json={"refresh_token": grant["access_token"], "everywhere": True})
    assert wrong.status_code == 422 and "send the refresh token" in str(wrong.json["errors"]["refresh_token"])
    assert _refresh(client, grant["refresh_token"]).status_code == 200


def test_only_a_live_refresh_token_of_the_account_can_sign_it_out_everywhere(
        factory, app, client, clock, taxpayer):
    tokens = app.extensions["shuima.services"].tokens
    before = factory.grant(taxpayer)
    assert app.test_cli_runner().invoke(cli, ["users", "deactivate", taxpayer]).exit_code == 0
    assert app.test_cli_runner().invoke(cli, ["users", "activate", taxpayer]).exit_code == 0
    current = factory.grant(taxpayer)
    _sign_out(client, before["refresh_token"], everywhere=True)  # from before the deactivation
    claims = jwt.decode(current["refresh_token"], options={"verify_signature": False})
    stranger = tokens.issue_refresh(Principal(int(claims["sub"]), taxpayer, Role.TAXPAYER), version=claims["ver"],
                                    session="not-a-log-in", now=clock.now())
    _sign_out(client, stranger, everywhere=True)  # names no log-in of the account
    assert _refresh(client, current["refresh_token"]).status_code == 200
    clock.advance(days=31)
    later = factory.grant(taxpayer)
    _sign_out(client, current["refresh_token"], everywhere=True)  # expired
    assert _refresh(client, later["refresh_token"]).status_code == 200


def test_sign_out_everywhere_ends_every_session_row_and_a_log_in_forgets_the_dead_ones(
        factory, client, clock, taxpayer):
    from sqlalchemy import select

    from app.accounts.models import RefreshSession
    from app.extensions import db

    def sessions() -> list[bool]:  # live?, oldest first
        with db.session() as session:
            return [row.ended_at is None for row in session.scalars(
                select(RefreshSession).order_by(RefreshSession.created_at, RefreshSession.jti))]

    first = factory.grant(taxpayer)
    factory.grant(taxpayer)
    _sign_out(client, first["refresh_token"], everywhere=True)
    assert sessions() == [False, False]
    clock.advance(seconds=1)
    factory.grant(taxpayer)  # ended rows stay while an access token of theirs could be live
    assert sessions() == [False, False, True]
    clock.advance(hours=1, minutes=5)
    factory.grant(taxpayer)  # then they go
    assert sessions() == [True, True]
    clock.advance(days=30, seconds=1)
    factory.grant(taxpayer)  # and so do those whose refresh token expired
    assert sessions() == [True]


def test_a_log_in_that_ended_lately_is_kept_however_long_ago_it_began(factory, client, clock, taxpayer):
    # Signed out near the end of its 30 days: another log-in must not delete the row while an access
    # token of that device could still be live, or the token would work again.
    old = factory.grant(taxpayer)
    clock.advance(days=29, hours=23, minutes=30)
    renewed = client.post("/api/v1/auth/refresh", json={"refresh_token": old["refresh_token"]}).json["access_token"]
    _sign_out(client, old["refresh_token"])
    clock.advance(minutes=40)  # the refresh token has expired by now; the renewed access token has not
    factory.grant(taxpayer)
    clock.advance(seconds=10)
    assert client.get("/api/v1/me/code", headers=_bearer(renewed)).status_code == 401
