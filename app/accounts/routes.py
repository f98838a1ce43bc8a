"""Log-in: exchange a username and password for a bearer token."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.schemas import TokenRequestSchema, TokenSchema
from app.accounts.service import log_in
from app.services import services

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log-in")


@blp.route("/token")
class Tokens(MethodView):
    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenSchema)
    def post(self, body: dict) -> dict:
        """Log in and receive a bearer access token

        Failed attempts are throttled per username and per client address (429 with
        ``Retry-After``).
        """
        s = services()
        token = log_in(
            body["username"], body["password"], address=request.remote_addr or "unknown", uow=s.uow(),
            passwords=s.passwords, tokens=s.tokens, limiter=s.limiter, limits=s.login_limits, clock=s.clock,
        )
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(s.tokens.ttl.total_seconds())}
