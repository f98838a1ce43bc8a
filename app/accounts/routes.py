"""Log-in: exchange a username and password for a bearer token; renew it with the refresh token."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.schemas import (
    GrantSchema, RefreshRequestSchema, SignOutRequestSchema, TokenRequestSchema, TokenSchema,
)
from app.accounts.service import log_in, refresh, sign_out
from app.services import services

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log-in")


@blp.after_request
def _not_stored(response: Response) -> Response:
    """Tokens are never kept by a cache or proxy on the way (RFC 6749 §5.1)."""
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/token")
class Tokens(MethodView):
    @blp.arguments(TokenRequestSchema)
    @blp.response(200, GrantSchema)
    def post(self, body: dict) -> dict:
        """Log in and receive a bearer access token and a refresh token

        Failed attempts are throttled per username and per client address (429 with
        ``Retry-After``); the right password of a deactivated account is a 403.
        """
        s = services()
        grant = log_in(
            body["username"], body["password"], address=request.remote_addr or "unknown", uow=s.uow(),
            passwords=s.passwords, tokens=s.tokens, limiter=s.limiter, limits=s.login_limits, clock=s.clock,
        )
        return _access(grant.access_token) | {"refresh_token": grant.refresh_token,
                                               "refresh_expires_in": int(s.tokens.refresh_ttl.total_seconds())}


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshRequestSchema)
    @blp.response(200, TokenSchema)
    def post(self, body: dict) -> dict:
        """Trade the refresh token for a new access token, without the password

        401 when the refresh token has expired, its device (or, with ``everywhere``, any) signed out,
        or its account was deactivated since: log in again.
        """
        s = services()
        return _access(refresh(body["refresh_token"], uow=s.uow(), tokens=s.tokens, clock=s.clock))


@blp.route("/logout")
class SignOut(MethodView):
    @blp.arguments(SignOutRequestSchema)
    @blp.response(204)
    def post(self, body: dict) -> None:
        """Sign this device out (its refresh token stops working), or every device of the account

        204 also for a token that names no live log-in, which changes nothing (as RFC 7009 answers
        invalid tokens); 422 for an access token sent instead. Its access tokens are refused within
        seconds; with ``everywhere``, every refresh token of the account at once and every access
        token within seconds.
        """
        s = services()
        sign_out(body["refresh_token"], everywhere=body["everywhere"], uow=s.uow(), tokens=s.tokens, clock=s.clock)


def _access(token: str) -> dict:
    return {"access_token": token, "token_type": "Bearer", "expires_in": int(services().tokens.ttl.total_seconds())}
