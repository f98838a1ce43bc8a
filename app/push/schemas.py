"""Marshmallow schemas for policies, the inbox and preferences.

Times go out in Asia/Shanghai (``+08:00``); times coming in without an offset are read as
Asia/Shanghai too. Storage is UTC throughout.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from app.fields import LocalDateTime, Whole
from app.push.domain import HHMM as HHMM_PATTERN, Category, Channel, PolicyStatus

CATEGORIES = [c.value for c in Category]
CHANNELS = [c.value for c in Channel]
HHMM = Whole.of(HHMM_PATTERN, error="must be a time as HH:MM (00:00–23:59)")


#: Limits a policy's fields obey whether it is created or patched (the two schemas differ only
#: in what is required and what defaults).
TITLE = validate.Length(min=2, max=200)
BODY = validate.Length(min=2, max=10000)
CATEGORY = validate.OneOf(CATEGORIES)
PRIORITY = validate.Range(min=0, max=100)


class RegionScope(fields.List):
    def __init__(self, **kwargs: Any):
        super().__init__(fields.String(validate=Whole.of(r"[0-9]{2,12}", error="a region code prefix is 2–12 digits")),
                         validate=validate.Length(max=100), **kwargs)


class PolicyInSchema(Schema):
    title = fields.String(required=True, validate=TITLE)
    body = fields.String(required=True, validate=BODY)
    category = fields.String(required=True, validate=CATEGORY)
    region_scope = RegionScope(load_default=list)
    valid_from = LocalDateTime(load_default=None)
    valid_to = LocalDateTime(load_default=None, allow_none=True)
    priority = fields.Integer(load_default=0, validate=PRIORITY)
    critical = fields.Boolean(load_default=False)
    rule = fields.Raw(required=True, metadata={"description": "JsonLogic subset over the taxpayer profile, "
                                                              "e.g. {\"==\": [{\"var\": \"color\"}, \"red\"]}"})


class PolicyPatchSchema(Schema):
    title = fields.String(validate=TITLE)
    body = fields.String(validate=BODY)
    category = fields.String(validate=CATEGORY)
    region_scope = RegionScope()
    valid_from = LocalDateTime()
    valid_to = LocalDateTime(allow_none=True)
    priority = fields.Integer(validate=PRIORITY)
    critical = fields.Boolean()
    rule = fields.Raw()


class PolicySchema(Schema):
    id = fields.Integer()
    title = fields.String()
    body = fields.String()
    category = fields.String()
    region_scope = fields.List(fields.String())
    valid_from = LocalDateTime()
    valid_to = LocalDateTime(allow_none=True)
    priority = fields.Integer()
    critical = fields.Boolean()
    rule = fields.Raw()
    status = fields.String()
    source_key = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = LocalDateTime()
    updated_at = LocalDateTime()
    published_at = LocalDateTime(allow_none=True)
    published_by = fields.String(allow_none=True)


class PolicyQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in PolicyStatus]))


class PreviewSampleSchema(Schema):
    uscc = fields.String()
    name = fields.String()
    grade = fields.String(allow_none=True)
    state = fields.String()
    region_code = fields.String(allow_none=True)
    industry_code = fields.String(allow_none=True)


class PreviewSchema(Schema):
    policy_id = fields.Integer()
    matching = fields.Integer(metadata={"description": "taxpayers the rule matches now"})
    as_of = fields.Date()
    sample = fields.List(fields.Nested(PreviewSampleSchema))


class DeliveryCountsSchema(Schema):
    policy_id = fields.Integer()
    total = fields.Integer()
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_channel = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()))


class InboxQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    unread_only = fields.Boolean(load_default=False)


class ClauseSchema(Schema):
    path = fields.String(metadata={"description": "JSON path of the clause in the policy's rule"})
    clause = fields.String()


class InboxItemSchema(Schema):
    id = fields.Integer()
    policy_id = fields.Integer()
    title = fields.String()
    body = fields.String()
    category = fields.String()
    priority = fields.Integer()
    critical = fields.Boolean()
    read = fields.Boolean()
    digest_id = fields.Integer(allow_none=True)
    delivered_at = LocalDateTime(allow_none=True)
    read_at = LocalDateTime(allow_none=True)


class InboxDetailSchema(InboxItemSchema):
    matched_at = LocalDateTime()
    explanation = fields.List(fields.Nested(ClauseSchema),
                              metadata={"description": "the rule's clauses you satisfied when it was matched"})


class InboxPageSchema(Schema):
    items = fields.List(fields.Nested(InboxItemSchema))
    unread = fields.Integer()
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


class QuietHoursSchema(Schema):
    start = fields.String(required=True, validate=HHMM)
    end = fields.String(required=True, validate=HHMM)


class PreferencesSchema(Schema):
    opt_out_categories = fields.List(fields.String(validate=validate.OneOf(CATEGORIES)), required=True)
    opt_out_channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)), required=True)
    quiet_hours = fields.Nested(QuietHoursSchema, required=True, allow_none=True,
                                metadata={"description": "Asia/Shanghai; null = no quiet hours"})
    daily_cap = fields.Integer(required=True, validate=validate.Range(min=1, max=100))


class TagsSchema(Schema):
    tags = fields.List(fields.String(validate=Whole.of(r"[a-z0-9_\-]{1,32}", error="a tag is 1–32 of a-z, 0-9, _ and -")),
                       required=True, validate=validate.Length(max=50))

    @validates("tags")
    def _unique(self, value: list[str], **_kwargs: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("tags must not repeat")
