"""The color code: a taxpayer fetches it, a clerk verifies it, anyone fetches the public keys."""

from __future__ import annotations

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.domain import Role
from app.auth import my_uscc, principal, requires
from app.codes.repository import SqlAlchemyVerificationRepository
from app.codes.schemas import (
    CodeSchema, TaxpayerVerificationSchema, VerificationRecordSchema, VerificationResultSchema, VerifyRequestSchema,
)
from app.codes.service import IssuedCode, badge_png, issue_code, verify_code
from app.fastpath import documented_arguments, json_body
from app.fields import local_iso
from app.services import Services, services
from app.taxpayers.domain import mask_company_name, mask_uscc

blp = Blueprint("codes", __name__, url_prefix="/api/v1", description="Color codes and counter verification")
wellknown = Blueprint("wellknown", __name__, url_prefix="/.well-known", description="Public signing keys")


def _plain_token_body(body: object) -> bool:
    """The common, valid request: ``{"token": "<1–4096 characters>"}`` and nothing else."""
    return (isinstance(body, dict) and len(body) == 1 and isinstance(token := body.get("token"), str)
            and 0 < len(token) <= 4096)


def code_for(uscc: str, s: Services) -> IssuedCode:
    """The taxpayer's live code (this route, the badge, and the code-fetch front in ``app.codes.front``)."""
    return issue_code(uscc, uow=s.uow(), status_cache=s.status_cache, codes=s.codes, keyring=s.keyring,
                      subjects=s.subjects, clock=s.clock, settings=s.code_settings)


def code_answer(code: IssuedCode) -> dict[str, object]:
    """``GET /me/code``'s answer, built by hand (same fields and formats as CodeSchema, which
    documents it): marshmallow serialisation was a fifth of a warm fetch's CPU (docs/performance.md)."""
    return {"token": code.token, "grade": code.status.grade.value if code.status.grade else None,
            "color": code.color.value, "state": code.status.state.value,
            "issued_at": local_iso(code.issued_at), "expires_at": local_iso(code.expires_at),
            "refresh_in": code.refresh_in}


def _my_code() -> IssuedCode:
    return code_for(my_uscc(), services())


@blp.route("/me/code")
class MyCode(MethodView):
    @requires(Role.TAXPAYER)
    @blp.response(200, CodeSchema)
    def get(self) -> Response:
        """The caller's live color code (fetch again after ``refresh_in`` seconds)"""
        return jsonify(code_answer(_my_code()))


@blp.route("/me/code.png")
class MyCodeBadge(MethodView):
    @requires(Role.TAXPAYER)
    @blp.response(200, content_type="image/png", description="the badge: QR code of the live token in its color")
    def get(self) -> Response:
        """The caller's code as a badge image (the QR code of the same token as ``/me/code``)"""
        s = services()
        code = _my_code()
        png = badge_png(code, codes=s.codes, render=s.render_badge, clock=s.clock)
        response = Response(png, mimetype="image/png")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Code-Refresh-In"] = str(code.refresh_in)
        return response


@blp.route("/verifications")
class Verifications(MethodView):
    @requires(Role.CLERK)
    @documented_arguments(blp, VerifyRequestSchema)
    @blp.response(200, VerificationResultSchema)
    def post(self) -> Response:
        """Verify a scanned code at the counter

        Checks signature, key, expiry and the taxpayer's current grade. An invalid token is a
        normal answer with ``valid: false`` and a stable ``reason``. Every call is audited
        and rate-limited per clerk.
        """
        body = json_body(blp, VerifyRequestSchema, fast=_plain_token_body)
        s = services()
        result = verify_code(body["token"], clerk=principal(), uow=s.uow(), status_cache=s.status_cache,
                             keyring=s.keyring, subjects=s.subjects, privileges=s.privileges, limiter=s.limiter,
                             audit=s.audit, clock=s.clock, settings=s.code_settings)
        status = result.status
        # Built by hand, as VerificationResultSchema documents it (see MyCode.get).
        return jsonify({
            "valid": result.valid, "reason": result.verdict.value, "stale": result.verdict.value == "stale",
            "grade": status.grade.value if status and status.grade else None,
            "color": result.color.value if result.color else None,
            "state": status.state.value if status else None,
            "taxpayer": {"name": mask_company_name(status.name), "uscc": mask_uscc(status.uscc)} if status else None,
            "privileges": result.privileges, "verified_at": local_iso(result.verified_at),
        })

    @requires(Role.CLERK)
    @blp.response(200, VerificationRecordSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters) -> list:  # type: ignore[no-untyped-def]
        """The verifications made by the caller's bank, newest first (paged; USCCs masked)"""
        with services().uow() as uow:
            rows, total = SqlAlchemyVerificationRepository(uow.session).for_bank(
                principal().bank_id or -1, offset=pagination_parameters.first_item,
                limit=pagination_parameters.page_size)
        pagination_parameters.item_count = total
        return [{"id": v.id, "clerk_username": v.clerk_username, "uscc": mask_uscc(v.uscc) if v.uscc else None,
                 "valid": v.valid, "reason": v.reason, "grade": v.grade, "color": v.color, "state": v.state,
                 "verified_at": v.verified_at} for v in rows]


@blp.route("/me/verifications")
class MyVerifications(MethodView):
    @requires(Role.TAXPAYER)
    @blp.response(200, TaxpayerVerificationSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters) -> list:  # type: ignore[no-untyped-def]
        """Who verified the caller's code: bank, time and result, newest first (paged)"""
        with services().uow() as uow:
            rows, total = SqlAlchemyVerificationRepository(uow.session).for_taxpayer(
                my_uscc(), offset=pagination_parameters.first_item,
                limit=pagination_parameters.page_size)
        pagination_parameters.item_count = total
        return [{"bank_code": bank.code, "bank_name": bank.name, "valid": v.valid, "reason": v.reason,
                 "color": v.color, "verified_at": v.verified_at} for v, bank in rows]


@wellknown.route("/jwks.json")
class Jwks(MethodView):
    @wellknown.response(200)
    def get(self) -> Response:
        """Public keys that verify code tokens (RFC 7517), for offline verification by banks"""
        response = jsonify(services().keyring.jwks())
        response.headers["Cache-Control"] = "public, max-age=300"
        return response
