"""Rural credit API: places, households, ratings, limits, loans, scorecards, statuses, reports.

Officers (one bank, one county) file and rate households and load loans; rural admins
manage places and scorecards and read statuses and reports. Every view states its roles and
every use case checks the county.
"""

from __future__ import annotations

from typing import Any, Callable

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.domain import Role
from app.auth import principal, requires
from app.csvimport import ImportFileSchema, ImportReport, ImportReportSchema
from app.rural import ratings as rating_cases, reports
from app.rural.context import RuralContext, actor_of, rural
from app.rural.domain import Actor, PlaceLevel
from app.rural.importer import import_households
from app.rural.schemas import (
    HouseholdCreateSchema, HouseholdPatchSchema, HouseholdQuerySchema, HouseholdSchema, LimitSchema, PlaceCreateSchema,
    PlaceQuerySchema, PlaceRenameSchema, PlaceReportSchema, PlaceSchema, PlaceStatusSchema, RatingSchema,
    RuralPolicyQuerySchema, RuralPolicySchema,
)
from app.rural.service import (
    create_place, file_household, get_household, get_place, list_households, list_places, rename_place,
    update_household,
)
from app.services import Services, services

blp = Blueprint("rural", __name__, url_prefix="/api/v1/rural", description="Rural credit households and villages")

READERS = (Role.OFFICER, Role.RURAL_ADMIN)


def caller() -> tuple[Actor, Services, RuralContext]:
    """The calling actor, the app's services and the rural context, for a view."""
    return actor_of(principal()), services(), rural()


def paged(pagination_parameters: Any, list_page: Callable[..., tuple[list, int]], *args: Any, **kwargs: Any) -> list:
    """Call a use case returning ``(rows, total)`` for the requested page; flask-smorest gets the total
    for ``X-Pagination``."""
    rows, total = list_page(*args, offset=pagination_parameters.first_item, limit=pagination_parameters.page_size,
                            **kwargs)
    pagination_parameters.item_count = total
    return rows


# --- places ---------------------------------------------------------------------------------

@blp.route("/places")
class Places(MethodView):
    @requires(*READERS)
    @blp.arguments(PlaceQuerySchema, location="query")
    @blp.response(200, PlaceSchema(many=True))
    @blp.paginate()
    def get(self, query: dict, pagination_parameters) -> list:  # type: ignore[no-untyped-def]
        """Counties, townships and villages of the caller's county (paged; filter by level, parent, name)"""
        actor, s, _r = caller()
        return paged(pagination_parameters, list_places, actor=actor, uow=s.uow(), **query)

    @requires(Role.RURAL_ADMIN)
    @blp.arguments(PlaceCreateSchema)
    @blp.response(201, PlaceSchema)
    def post(self, body: dict) -> dict:
        """Add a county, township or village (codes: 6, 9 or 12 digits under the parent's code)"""
        actor, s, _r = caller()
        return create_place(body["code"], body["name"].strip(), PlaceLevel(body["level"]), body["parent_code"],
                            actor=actor, uow=s.uow())


@blp.route("/places/<string:code>")
class PlaceByCode(MethodView):
    @requires(*READERS)
    @blp.response(200, PlaceSchema)
    def get(self, code: str) -> dict:
        """One place"""
        actor, s, _r = caller()
        return get_place(code, actor=actor, uow=s.uow())

    @requires(Role.RURAL_ADMIN)
    @blp.arguments(PlaceRenameSchema)
    @blp.response(200, PlaceSchema)
    def patch(self, body: dict, code: str) -> dict:
        """Rename a place"""
        actor, s, _r = caller()
        return rename_place(code, body["name"].strip(), actor=actor, uow=s.uow())


@blp.route("/places/<string:code>/status")
class PlaceStatus(MethodView):
    @requires(*READERS)
    @blp.response(200, PlaceStatusSchema)
    def get(self, code: str) -> dict:
        """A village's, township's or county's status: each threshold met or missed and by how much"""
        actor, s, r = caller()
        return reports.place_status(code, actor=actor, uow=s.uow(), clock=s.clock, ctx=r)


@blp.route("/places/<string:code>/report")
class PlaceReport(MethodView):
    @requires(*READERS)
    @blp.response(200, PlaceReportSchema)
    def get(self, code: str) -> dict:
        """The bank's report figures for a place and every place below it"""
        actor, s, r = caller()
        return reports.place_report(code, actor=actor, uow=s.uow(), clock=s.clock, ctx=r)


@blp.route("/places/<string:code>/report.csv")
class PlaceReportCsv(MethodView):
    @requires(*READERS)
    @blp.response(200, content_type="text/csv", description="the report as CSV (UTF-8 with BOM)")
    def get(self, code: str) -> Response:
        """The report as a CSV download"""
        actor, s, r = caller()
        data = reports.report_csv(reports.place_report(code, actor=actor, uow=s.uow(), clock=s.clock, ctx=r))
        response = Response(data, mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="rural-report-{code}.csv"'
        return response


@blp.route("/places/<string:code>/chart.png")
class CountyChart(MethodView):
    @requires(*READERS)
    @blp.response(200, content_type="image/png", description="villages by status")
    def get(self, code: str) -> Response:
        """A PNG chart of a county's villages by status"""
        actor, s, r = caller()
        return Response(reports.county_chart(code, actor=actor, uow=s.uow(), clock=s.clock, ctx=r),
                        mimetype="image/png")


@blp.route("/policy")
class Policy(MethodView):
    @requires(*READERS)
    @blp.arguments(RuralPolicyQuerySchema, location="query")
    @blp.response(200, RuralPolicySchema)
    def get(self, query: dict) -> dict:
        """The region's rules as data: cycle deadlines, thresholds, star levels, limit terms, LPR + bp"""
        _actor, s, r = caller()
        return reports.policy_view(query["year"], clock=s.clock, ctx=r)


# --- households -----------------------------------------------------------------------------

@blp.route("/households")
class Households(MethodView):
    @requires(*READERS)
    @blp.arguments(HouseholdQuerySchema, location="query")
    @blp.response(200, HouseholdSchema(many=True))
    @blp.paginate()
    def get(self, query: dict, pagination_parameters) -> list:  # type: ignore[no-untyped-def]
        """The county's households (paged; filter by village, township, grade, rated, name); IDs masked"""
        actor, s, _r = caller()
        county = query.pop("county")
        return paged(pagination_parameters, list_households, actor=actor, county=county, filters=query, uow=s.uow(),
                     clock=s.clock)

    @requires(Role.OFFICER)
    @blp.arguments(HouseholdCreateSchema)
    @blp.response(201, HouseholdSchema)
    def post(self, body: dict) -> dict:
        """File (建档) a household in a village of the caller's county"""
        actor, s, r = caller()
        return file_household(body, actor=actor, uow=s.uow(), clock=s.clock, ctx=r)


@blp.route("/households/<int:household_id>")
class HouseholdById(MethodView):
    @requires(*READERS)
    @blp.response(200, HouseholdSchema)
    def get(self, household_id: int) -> dict:
        """One household with its loans (full ID number for the owning officer only)"""
        actor, s, _r = caller()
        return get_household(household_id, actor=actor, uow=s.uow(), clock=s.clock)

    @requires(Role.OFFICER)
    @blp.arguments(HouseholdPatchSchema(partial=True))
    @blp.response(200, HouseholdSchema)
    def patch(self, body: dict, household_id: int) -> dict:
        """Update a household's facts, name or village"""
        actor, s, r = caller()
        return update_household(household_id, body, actor=actor, uow=s.uow(), clock=s.clock, ctx=r)


@blp.route("/households/imports")
class HouseholdImports(MethodView):
    @requires(Role.OFFICER)
    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(201, ImportReportSchema)
    def post(self, files: dict) -> ImportReport:
        """File households from a CSV (multipart field ``file``); bad lines are listed, re-runs change nothing"""
        actor, s, r = caller()
        upload = files["file"]
        return import_households(upload.read(), filename=upload.filename or "households.csv", actor=actor,
                                 uow=s.uow(), clock=s.clock, ctx=r)


@blp.route("/households/<int:household_id>/ratings")
class HouseholdRatings(MethodView):
    @requires(*READERS)
    @blp.response(200, RatingSchema(many=True))
    @blp.paginate()
    def get(self, household_id: int, pagination_parameters) -> list:  # type: ignore[no-untyped-def]
        """The household's ratings, newest first"""
        actor, s, r = caller()
        return paged(pagination_parameters, rating_cases.household_ratings, household_id, actor=actor, uow=s.uow(),
                     clock=s.clock, ctx=r)

    @requires(Role.OFFICER)
    @blp.response(201, RatingSchema)
    def post(self, household_id: int) -> dict:
        """Rate a household on the active scorecard and post it for public notice"""
        actor, s, r = caller()
        return rating_cases.propose_rating(household_id, actor=actor, uow=s.uow(), clock=s.clock, ctx=r)


@blp.route("/households/<int:household_id>/limit")
class HouseholdLimit(MethodView):
    @requires(Role.OFFICER)
    @blp.response(200, LimitSchema)
    def get(self, household_id: int) -> dict:
        """The loan limit in force, each term explained, with today's rate from the village's stars"""
        actor, s, r = caller()
        return rating_cases.current_limit(household_id, actor=actor, uow=s.uow(), clock=s.clock, ctx=r)


# The rating, loan and scorecard views live in their own module on the same blueprint.
from app.rural import routes_ratings  # noqa: E402,F401
