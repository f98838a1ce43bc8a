"""Tax-bureau staff: look up a taxpayer, change a grade during the year, bulk-load grades."""

from __future__ import annotations

from decimal import Decimal

from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.domain import Role
from app.auth import principal, requires
from app.codes.domain import color_for
from app.csvimport import ImportFileSchema
from app.errors import InvalidIdentifier
from app.services import services
from app.taxpayers.domain import Grade, State, UsccError, normalize_uscc
from app.taxpayers.importer import import_grades
from app.taxpayers.schemas import (
    GradeChangeSchema, GradeImportReportSchema, GradeStatusSchema, TaxpayerSchema,
)
from app.taxpayers.service import change_grade, taxpayer_with_history

blp = Blueprint("taxpayers", __name__, url_prefix="/api/v1", description="Taxpayers and tax-credit grades")


def parse_uscc(raw: str) -> str:
    """Validate a USCC from a URL or body; raises ``InvalidIdentifier`` naming ``uscc``."""
    try:
        return normalize_uscc(raw)
    except UsccError as exc:
        raise InvalidIdentifier.field("uscc", str(exc)) from exc


@blp.route("/taxpayers/<string:uscc>")
class TaxpayerById(MethodView):
    @requires(Role.TAX_ADMIN)
    @blp.response(200, TaxpayerSchema)
    def get(self, uscc: str) -> dict:
        """A taxpayer with its current grade and grade history (newest first)"""
        row, history = taxpayer_with_history(parse_uscc(uscc), uow=services().uow())
        grade = Grade(row.grade) if row.grade else None
        return {**{c: getattr(row, c) for c in TaxpayerSchema().fields if hasattr(row, c)},
                "color": color_for(grade, State(row.state)).value, "history": history}


@blp.route("/taxpayers/<string:uscc>/grade")
class TaxpayerGrade(MethodView):
    @requires(Role.TAX_ADMIN)
    @blp.arguments(GradeChangeSchema)
    @blp.response(200, GradeStatusSchema)
    def put(self, body: dict, uscc: str) -> dict:
        """Change a taxpayer's grade or state during the year (dynamic management)

        The new color shows in the next code fetch and every later verification; a
        ``GradeChanged`` event is published.
        """
        s = services()
        status = change_grade(
            parse_uscc(uscc), grade=Grade(body["grade"]) if body["grade"] else None, state=State(body["state"]),
            score=Decimal(body["score"]) if body["score"] is not None else None, year=body["year"],
            reason=body["reason"], changed_by=principal().username, uow=s.uow(), cache=s.status_cache, clock=s.clock,
        )
        return {"uscc": status.uscc, "grade": status.grade.value if status.grade else None,
                "color": color_for(status.grade, status.state).value, "state": status.state.value,
                "year": status.year, "changed_at": status.changed_at}


@blp.route("/grades/imports")
class GradeImports(MethodView):
    @requires(Role.TAX_ADMIN)
    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(201, GradeImportReportSchema)
    def post(self, files: dict) -> dict:
        """Bulk-load grades from a CSV file (multipart field ``file``)

        Columns ``uscc,name,grade,year`` and optional ``score,state,region,industry,
        registered_on,size``. Bad lines are listed in ``errors`` with their line number;
        good lines are applied; loading the same file again changes nothing.
        """
        s = services()
        upload = files["file"]
        report = import_grades(
            upload.read(), filename=upload.filename or "upload.csv", imported_by=principal().username,
            uow=s.uow(), cache=s.status_cache, clock=s.clock, chunk_rows=s.import_chunk_rows,
        )
        return {**report.__dict__, "rejected": report.rejected}
