from marshmallow import Schema, fields, validate


class TokenRequestSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=256))


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class RefreshRequestSchema(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=4096))


class GrantSchema(TokenSchema):
    refresh_token = fields.String(required=True, metadata={
        "description": "trade it at /api/v1/auth/refresh for a new access token, without the password"})
    refresh_expires_in = fields.Integer(required=True)


class SignOutRequestSchema(RefreshRequestSchema):
    everywhere = fields.Boolean(load_default=False, metadata={
        "description": "end every log-in of the account (all devices), not only this one"})
