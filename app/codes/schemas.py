from marshmallow import Schema, fields, validate

from app.fields import LocalDateTime


class CodeSchema(Schema):
    token = fields.String(metadata={"description": "compact JWS (EdDSA), verifiable with /.well-known/jwks.json"})
    grade = fields.String(allow_none=True)
    color = fields.String()
    state = fields.String()
    issued_at = LocalDateTime()
    expires_at = LocalDateTime()
    refresh_in = fields.Integer(metadata={"description": "seconds until the app should fetch a new code"})


class VerifyRequestSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=4096))


class MaskedTaxpayerSchema(Schema):
    name = fields.String()
    uscc = fields.String()


class PrivilegeSchema(Schema):
    key = fields.String()
    title = fields.String()
    description = fields.String()


class VerificationResultSchema(Schema):
    valid = fields.Boolean()
    reason = fields.String(metadata={"description": "ok, stale, bad_signature, unknown_key, expired, malformed, "
                                                    "unknown_taxpayer"})
    stale = fields.Boolean(metadata={"description": "the grade changed since the code was issued; "
                                                   "grade/color/state show the current one"})
    grade = fields.String(allow_none=True)
    color = fields.String(allow_none=True)
    state = fields.String(allow_none=True)
    taxpayer = fields.Nested(MaskedTaxpayerSchema, allow_none=True)
    privileges = fields.List(fields.Nested(PrivilegeSchema))
    verified_at = LocalDateTime()


class VerificationRecordSchema(Schema):
    id = fields.Integer()
    clerk = fields.String(attribute="clerk_username")
    uscc = fields.String(allow_none=True)
    valid = fields.Boolean()
    reason = fields.String()
    grade = fields.String(allow_none=True)
    color = fields.String(allow_none=True)
    state = fields.String(allow_none=True)
    verified_at = LocalDateTime()


class TaxpayerVerificationSchema(Schema):
    bank_code = fields.String()
    bank_name = fields.String()
    valid = fields.Boolean()
    reason = fields.String()
    color = fields.String(allow_none=True)
    verified_at = LocalDateTime()
