"""Marshmallow schemas of the rural API. Money is a decimal string in yuan; times are
shown in Asia/Shanghai (``LocalDateTime``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

from marshmallow import Schema, ValidationError, fields, validate

from app.fields import Contains, LocalDateTime
from app.rural.domain import (
    LAND_FORMAT_ERROR, MAX_COUNTS, MAX_LAND_MU, MAX_MONEY, MONEY_FORMAT_ERROR, Assessment, BadRecord, CreditRecord,
    Education, Health, Housing, ObjectionOutcome, PlaceLevel, ProductionType, RatingState, RuralGrade,
    at_most_places,
)


def _values(kind: Any) -> list[str]:
    return [e.value for e in kind]


Money = lambda **kw: fields.Decimal(as_string=True, allow_nan=False, **kw)  # noqa: E731
NOT_BLANK = Contains(r"\S", error="must not be blank")
MAX_ID = 2**31 - 1  # ids are INTEGER columns: no row has a bigger one, and PostgreSQL refuses it (a 500)


def _bounds(low: int, high: int, **metadata: Any) -> dict[str, Any]:
    """A Range for a Decimal field, documented with numeric bounds: apispec serializes the bounds
    with the field itself, which gives strings ("100000000000") and a schema OpenAPI tools reject."""
    return {"validate": validate.Range(min=low, max=high), "metadata": {"minimum": low, "maximum": high, **metadata}}


# --- places ---------------------------------------------------------------------------------

class PlaceSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent_code = fields.String(allow_none=True)
    county_code = fields.String()


class PlaceCreateSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=6, max=12))
    name = fields.String(required=True, validate=[validate.Length(min=1, max=100), NOT_BLANK])
    level = fields.String(required=True, validate=validate.OneOf(_values(PlaceLevel)))
    parent_code = fields.String(load_default=None, allow_none=True)


class PlaceRenameSchema(Schema):
    name = fields.String(required=True, validate=[validate.Length(min=1, max=100), NOT_BLANK])


class PlaceQuerySchema(Schema):
    county = fields.String(load_default=None)
    level = fields.String(load_default=None, validate=validate.OneOf(_values(PlaceLevel)))
    parent_code = fields.String(load_default=None)
    name = fields.String(load_default=None)


# --- households -----------------------------------------------------------------------------

#: Bounds of the facts, the same as ``domain.check_facts`` applies (ints: see ``_bounds``).
_MONEY_MAX, _LAND_MAX = int(MAX_MONEY), int(MAX_LAND_MU)


def _two_places(error: str) -> Callable[[Decimal], None]:
    """A validator refusing more than two decimals: the columns keep two, and a value silently
    rounded in storage is not the one the caller was answered with (``1e-1000000`` fails on
    PostgreSQL). A value too big to quantize is left to the range check beside it."""
    def check(value: Decimal) -> None:
        if value.copy_abs() <= MAX_MONEY and not at_most_places(value, 2):
            raise ValidationError(error)
    return check


def _amount(high: int, error: str, **metadata: Any) -> dict[str, Any]:
    """``_bounds(0, high)`` plus at most two decimals."""
    bounds = _bounds(0, high, **metadata)
    return bounds | {"validate": [bounds["validate"], _two_places(error)]}


class HouseholdFactsSchema(Schema):
    members = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_COUNTS["members"]))
    labourers = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_COUNTS["members"]))
    years_resident = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_COUNTS["years_resident"]))
    health = fields.String(required=True, validate=validate.OneOf(_values(Health)))
    education = fields.String(required=True, validate=validate.OneOf(_values(Education)))
    land_area = fields.Decimal(required=True, allow_nan=False,
                               **_amount(_LAND_MAX, LAND_FORMAT_ERROR, description="contracted land, mu"))
    housing = fields.String(load_default="brick_concrete", validate=validate.OneOf(_values(Housing)))
    assets = Money(required=True, **_amount(_MONEY_MAX, MONEY_FORMAT_ERROR))
    annual_income = Money(required=True, **_amount(_MONEY_MAX, MONEY_FORMAT_ERROR))
    operating_income = Money(required=True, **_amount(_MONEY_MAX, MONEY_FORMAT_ERROR))
    debts = Money(required=True, **_amount(_MONEY_MAX, MONEY_FORMAT_ERROR))
    deposits = Money(required=True, **_amount(_MONEY_MAX, MONEY_FORMAT_ERROR))
    production_type = fields.String(load_default="planting", validate=validate.OneOf(_values(ProductionType)))
    credit_record = fields.String(required=True, validate=validate.OneOf(_values(CreditRecord)))
    past_defaults = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_COUNTS["past_defaults"]))
    debt_evasion = fields.Boolean(required=True)
    village_assessment = fields.String(required=True, validate=validate.OneOf(_values(Assessment)))
    honours = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_COUNTS["honours"]))
    bad_records = fields.List(fields.String(validate=validate.OneOf(_values(BadRecord))), load_default=list)


class HouseholdCreateSchema(HouseholdFactsSchema):
    village_code = fields.String(required=True, validate=validate.Length(equal=12))
    head_name = fields.String(required=True, validate=[validate.Length(min=1, max=64), NOT_BLANK])
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=32))


class HouseholdPatchSchema(HouseholdCreateSchema):
    class Meta:
        exclude = ("id_number",)


class HouseholdLoanSchema(Schema):
    loan_no = fields.String()
    amount = Money()
    balance = Money()
    days_overdue = fields.Integer()
    issued_on = fields.Date()
    as_of = fields.Date()


class LoanSchema(HouseholdLoanSchema):
    household_id = fields.Integer()
    village_code = fields.String()


class LoanQuerySchema(Schema):
    county = fields.String(load_default=None)
    village_code = fields.String(load_default=None)
    household_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_ID))
    overdue = fields.Boolean(load_default=None, metadata={"description": "only loans with (true) or without arrears"})


class HouseholdSchema(HouseholdFactsSchema):
    id = fields.Integer()
    county_code = fields.String()
    village_code = fields.String()
    head_name = fields.String(metadata={"description": "masked except for the owning officer's detail view"})
    id_number = fields.String(metadata={"description": "masked except for the owning officer's detail view"})
    id_number_masked = fields.Boolean()
    grade = fields.String(allow_none=True)
    score = fields.Decimal(as_string=True, allow_none=True)
    limit_amount = Money(allow_none=True)
    rated_until = fields.Date(allow_none=True, metadata={"description": "first day the rating no longer holds"})
    rating_id = fields.Integer(allow_none=True)
    filed_by = fields.String()
    created_at = LocalDateTime()
    updated_at = LocalDateTime()
    loans = fields.List(fields.Nested(HouseholdLoanSchema))


class HouseholdQuerySchema(Schema):
    county = fields.String(load_default=None, metadata={"description": "unbound rural admins only"})
    village_code = fields.String(load_default=None)
    township_code = fields.String(load_default=None)
    grade = fields.String(load_default=None, validate=validate.OneOf([*_values(RuralGrade), "none"]))
    rated = fields.Boolean(load_default=None)
    name = fields.String(load_default=None, metadata={
        "description": "head's name starts with; past the first character (the surname lists show) it matches "
                       "only households whose full name the caller sees: an officer's own bank's"})


# --- ratings --------------------------------------------------------------------------------

class RatingItemSchema(Schema):
    key = fields.String()
    group = fields.String()
    title = fields.String()
    points = fields.Decimal(as_string=True)
    max = fields.Decimal(as_string=True)
    reason = fields.String()


class ObjectionSchema(Schema):
    id = fields.Integer()
    raised_by = fields.String()
    reason = fields.String()
    recorded_by = fields.String()
    recorded_at = LocalDateTime()
    outcome = fields.String(allow_none=True)
    outcome_note = fields.String(allow_none=True)
    resolved_at = LocalDateTime(allow_none=True)


class LimitTermSchema(Schema):
    key = fields.String()
    label = fields.String()
    amount = fields.String()


class RatingSchema(Schema):
    id = fields.Integer()
    household_id = fields.Integer()
    village_code = fields.String()
    scorecard_id = fields.Integer()
    scorecard = fields.String()
    scorecard_version = fields.Integer()
    state = fields.String()
    score = fields.Decimal(as_string=True)
    grade = fields.String(allow_none=True)
    credit_household = fields.Boolean()
    veto = fields.Dict(allow_none=True)
    items = fields.List(fields.Nested(RatingItemSchema))
    proposed_by = fields.String()
    proposed_at = LocalDateTime()
    notice_ends_at = LocalDateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = LocalDateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    limit_amount = Money(allow_none=True)
    limit_terms = fields.List(fields.Nested(LimitTermSchema), allow_none=True)
    objections = fields.List(fields.Nested(ObjectionSchema))


class RatingQuerySchema(Schema):
    county = fields.String(load_default=None)
    household_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_ID))
    state = fields.String(load_default=None, validate=validate.OneOf(_values(RatingState)))
    village_code = fields.String(load_default=None)
    grade = fields.String(load_default=None, validate=validate.OneOf(_values(RuralGrade)))


class ObjectionCreateSchema(Schema):
    raised_by = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))


class ObjectionResolveSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(_values(ObjectionOutcome)))
    note = fields.String(required=True, validate=validate.Length(min=2, max=2000))


class RatingDecisionSchema(Schema):
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class BulkRatingSchema(Schema):
    county = fields.String(load_default=None)
    village_code = fields.String(load_default=None)


class BulkRatingResultSchema(Schema):
    proposed = fields.Integer()
    skipped = fields.Integer()
    confirmed = fields.Integer()


class LoanRateSchema(Schema):
    village_stars = fields.Integer()
    lpr = fields.Decimal(as_string=True)
    bp = fields.Decimal(as_string=True)
    rate = fields.Decimal(as_string=True, metadata={"description": "percent a year"})
    explanation = fields.String()


class LimitSchema(Schema):
    household_id = fields.Integer()
    rating_id = fields.Integer()
    grade = fields.String()
    amount = Money()
    terms = fields.List(fields.Nested(LimitTermSchema))
    valid_from = fields.Date()
    valid_until = fields.Date(metadata={"description": "first day the limit no longer holds"})
    rate = fields.Nested(LoanRateSchema)


# --- scorecards, statuses, reports ----------------------------------------------------------

class ScorecardCreateSchema(Schema):
    county_code = fields.String(load_default=None, allow_none=True)
    body = fields.Dict(required=True, metadata={"description": "the scorecard as data (see the default's shape)"})


class ScorecardSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    version = fields.Integer()
    county_code = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = LocalDateTime()
    body = fields.Dict()


class ScorecardQuerySchema(Schema):
    county = fields.String(load_default=None)


class PlaceStatusSchema(Schema):
    level = fields.String()
    code = fields.String()
    name = fields.String()
    credit = fields.Boolean()
    stars = fields.Integer()
    checks = fields.List(fields.Dict(), metadata={"description": "key, title, op, required, actual, met, margin"})
    figures = fields.Dict()
    shares = fields.Dict()
    villages = fields.Integer()
    credit_villages = fields.Integer()
    as_of = fields.String()
    cycle_year = fields.Integer()
    cycle = fields.Dict()


class PlaceReportSchema(Schema):
    as_of = fields.String()
    total = fields.Dict()
    rows = fields.List(fields.Dict())


class RuralPolicyQuerySchema(Schema):
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100),
                          metadata={"description": "rating cycle year (default: the current one)"})


class RuralPolicySchema(Schema):
    year = fields.Integer()
    cycle = fields.Dict()
    notice_days = fields.Integer()
    rating_valid_years = fields.Integer()
    npl_overdue_days = fields.Integer()
    thresholds = fields.Dict()
    village_stars = fields.List(fields.Dict())
    limits = fields.Dict()
    rates = fields.Dict()
