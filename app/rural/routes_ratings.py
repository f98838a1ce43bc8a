"""Rural credit API, continued: ratings (one by one and in bulk), loans, scorecards."""

from __future__ import annotations

from flask.views import MethodView

from app.accounts.domain import Role
from app.auth import requires
from app.csvimport import ImportFileSchema, ImportReport, ImportReportSchema
from app.rural import ratings as rating_cases, scorecard_versions
from app.rural.domain import ObjectionOutcome
from app.rural.loans import import_loans, list_loans
from app.rural.routes import READERS, blp, caller, paged
from app.rural.schemas import (
    BulkRatingResultSchema, BulkRatingSchema, LoanQuerySchema, LoanSchema, ObjectionCreateSchema,
    ObjectionResolveSchema, RatingDecisionSchema, RatingQuerySchema, RatingSchema,
    ScorecardCreateSchema, ScorecardQuerySchema, ScorecardSchema,
)


# --- ratings --------------------------------------------------------------------------------

@blp.route("/ratings")
class Ratings(MethodView):
    @requires(*READERS)
    @blp.arguments(RatingQuerySchema, location="query")
    @blp.response(200, RatingSchema(many=True))
    @blp.paginate()
    def get(self, query: dict, pagination_parameters) -> list:  # type: ignore[no-untyped-def]
        """Ratings of the county, newest first (paged; filter by state, village, grade, household)"""
        actor, s, r = caller()
        county = query.pop("county")
        return paged(pagination_parameters, rating_cases.list_ratings, actor=actor, county=county, filters=query,
                     uow=s.uow(), clock=s.clock, ctx=r)


@blp.route("/ratings/<int:rating_id>")
class RatingById(MethodView):
    @requires(*READERS)
    @blp.response(200, RatingSchema)
    def get(self, rating_id: int) -> dict:
        """One rating: score, grade, every item with its reason, veto, limit, notice and objections"""
        actor, s, r = caller()
        return rating_cases.get_rating(rating_id, actor=actor, uow=s.uow(), clock=s.clock, ctx=r)


@blp.route("/ratings/<int:rating_id>/objections")
class RatingObjections(MethodView):
    @requires(Role.OFFICER)
    @blp.arguments(ObjectionCreateSchema)
    @blp.response(201, RatingSchema)
    def post(self, body: dict, rating_id: int) -> dict:
        """Record an objection raised during the public notice"""
        actor, s, r = caller()
        return rating_cases.record_objection(rating_id, raised_by=body["raised_by"], reason=body["reason"],
                                             actor=actor, uow=s.uow(), clock=s.clock, ctx=r)


@blp.route("/ratings/<int:rating_id>/objections/<int:objection_id>/resolution")
class ObjectionResolution(MethodView):
    @requires(Role.OFFICER)
    @blp.arguments(ObjectionResolveSchema)
    @blp.response(200, RatingSchema)
    def post(self, body: dict, rating_id: int, objection_id: int) -> dict:
        """Uphold or dismiss an objection"""
        actor, s, r = caller()
        return rating_cases.resolve_objection(rating_id, objection_id, outcome=ObjectionOutcome(body["outcome"]),
                                              note=body["note"], actor=actor, uow=s.uow(), clock=s.clock, ctx=r)


@blp.route("/ratings/<int:rating_id>/confirmation")
class RatingConfirmation(MethodView):
    @requires(Role.OFFICER)
    @blp.response(200, RatingSchema)
    def post(self, rating_id: int) -> dict:
        """Confirm a rating after its notice (409 during the notice or with a standing objection)"""
        actor, s, r = caller()
        return rating_cases.confirm_rating(rating_id, actor=actor, uow=s.uow(), clock=s.clock, ctx=r)


@blp.route("/ratings/<int:rating_id>/withdrawal")
class RatingWithdrawal(MethodView):
    @requires(Role.OFFICER)
    @blp.arguments(RatingDecisionSchema)
    @blp.response(200, RatingSchema)
    def post(self, body: dict, rating_id: int) -> dict:
        """Withdraw a rating in notice or in force"""
        actor, s, r = caller()
        return rating_cases.withdraw_rating(rating_id, note=body["note"], actor=actor, uow=s.uow(), clock=s.clock,
                                            ctx=r)


@blp.route("/ratings/proposals")
class RatingProposals(MethodView):
    @requires(Role.OFFICER)
    @blp.arguments(BulkRatingSchema)
    @blp.response(201, BulkRatingResultSchema)
    def post(self, body: dict) -> dict:
        """Rate every household of the county (or one village) that has no rating in force or in notice"""
        actor, s, r = caller()
        return rating_cases.propose_ratings(body["county"], village_code=body["village_code"], actor=actor,
                                            uow=s.uow(), clock=s.clock, ctx=r)


@blp.route("/ratings/confirmations")
class RatingConfirmations(MethodView):
    @requires(Role.OFFICER)
    @blp.arguments(BulkRatingSchema)
    @blp.response(200, BulkRatingResultSchema)
    def post(self, body: dict) -> dict:
        """Confirm every rating whose notice has ended without a standing objection"""
        actor, s, r = caller()
        return rating_cases.confirm_due_ratings(body["county"], village_code=body["village_code"], actor=actor,
                                                uow=s.uow(), clock=s.clock, ctx=r)


# --- loans and scorecards -------------------------------------------------------------------

@blp.route("/loans")
class Loans(MethodView):
    @requires(*READERS)
    @blp.arguments(LoanQuerySchema, location="query")
    @blp.response(200, LoanSchema(many=True))
    @blp.paginate()
    def get(self, query: dict, pagination_parameters) -> list:  # type: ignore[no-untyped-def]
        """The county's loans as last reported (paged; filter by village, household, overdue)"""
        actor, s, _r = caller()
        county = query.pop("county")
        return paged(pagination_parameters, list_loans, actor=actor, county=county, filters=query, uow=s.uow())


@blp.route("/loans/imports")
class LoanImports(MethodView):
    @requires(Role.OFFICER)
    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(201, ImportReportSchema)
    def post(self, files: dict) -> ImportReport:
        """Load the bank's loan balances (loan_no,id_number,amount,balance,days_overdue,issued_on[,as_of])"""
        actor, s, r = caller()
        upload = files["file"]
        return import_loans(upload.read(), filename=upload.filename or "loans.csv", actor=actor, uow=s.uow(),
                            clock=s.clock, ctx=r)


@blp.route("/scorecards")
class Scorecards(MethodView):
    @requires(*READERS)
    @blp.arguments(ScorecardQuerySchema, location="query")
    @blp.response(200, ScorecardSchema(many=True))
    @blp.paginate()
    def get(self, query: dict, pagination_parameters) -> list:  # type: ignore[no-untyped-def]
        """Scorecard versions that apply to the county, newest first"""
        actor, s, r = caller()
        return paged(pagination_parameters, scorecard_versions.list_scorecards, actor=actor, county=query["county"],
                     uow=s.uow(), ctx=r)

    @requires(Role.RURAL_ADMIN)
    @blp.arguments(ScorecardCreateSchema)
    @blp.response(201, ScorecardSchema)
    def post(self, body: dict) -> dict:
        """Publish a new scorecard version (for one county, or the default); later ratings use it"""
        actor, s, _r = caller()
        return scorecard_versions.publish_scorecard(body["body"], county_code=body["county_code"], actor=actor,
                                              uow=s.uow(), clock=s.clock)


@blp.route("/scorecards/<int:scorecard_id>")
class ScorecardById(MethodView):
    @requires(*READERS)
    @blp.response(200, ScorecardSchema)
    def get(self, scorecard_id: int) -> dict:
        """One scorecard version with its full body"""
        actor, s, _r = caller()
        return scorecard_versions.get_scorecard(scorecard_id, actor=actor, uow=s.uow())
