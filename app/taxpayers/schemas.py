from marshmallow import Schema, fields, validate

from app.csvimport import ImportReportSchema
from app.fields import LocalDateTime
from app.taxpayers.domain import Grade, State

GRADES = [g.value for g in Grade]
STATES = [s.value for s in State]


class GradeChangeSchema(Schema):
    grade = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(GRADES))
    state = fields.String(load_default=State.NORMAL.value, validate=validate.OneOf(STATES))
    score = fields.Decimal(load_default=None, allow_none=True, places=2, as_string=True)
    year = fields.Integer(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))


class GradeStatusSchema(Schema):
    uscc = fields.String()
    grade = fields.String(allow_none=True)
    color = fields.String()
    state = fields.String()
    year = fields.Integer(allow_none=True)
    changed_at = LocalDateTime(allow_none=True)


class GradeRecordSchema(Schema):
    year = fields.Integer()
    grade = fields.String(allow_none=True)
    state = fields.String()
    score = fields.Decimal(allow_none=True, as_string=True)
    reason = fields.String()
    source = fields.String()
    changed_by = fields.String()
    effective_at = LocalDateTime()


class TaxpayerSchema(Schema):
    uscc = fields.String()
    name = fields.String()
    region_code = fields.String(allow_none=True)
    industry_code = fields.String(allow_none=True)
    registered_on = fields.Date(allow_none=True)
    size_class = fields.String(allow_none=True)
    grade = fields.String(allow_none=True)
    state = fields.String()
    color = fields.String()
    score = fields.Decimal(allow_none=True, as_string=True)
    grade_year = fields.Integer(allow_none=True)
    history = fields.List(fields.Nested(GradeRecordSchema))


class GradeImportReportSchema(ImportReportSchema):
    skipped = fields.Integer(metadata={"description": "lines for an older year, and the held ones"})
    held = fields.List(fields.Dict(), metadata={
        "description": "lines not applied because the taxpayer's grade for that year was changed individually "
                       "after the annual evaluation: line, uscc, reason"})
    errors = fields.List(fields.Dict(), metadata={"description": "one entry per bad line: line, uscc, errors"})
