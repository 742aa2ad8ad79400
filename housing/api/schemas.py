"""Marshmallow schemas of the API; unknown fields are refused (422)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from housing.accounts.models import Channel, Language
from housing.organisations.models import OfficeType, OrganisationKind
from housing.roles import Role


class OrganisationSchema(Schema):
    id = fields.Int(dump_only=True)
    kind = fields.Enum(OrganisationKind, by_value=True, dump_only=True)
    name = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    iban = fields.Str(required=True, validate=validate.Length(min=5, max=42))
    bic = fields.Str(allow_none=True, validate=validate.Length(max=11))


class OrganisationPatchSchema(Schema):
    name = fields.Str(validate=validate.Length(min=1, max=200))
    iban = fields.Str(validate=validate.Length(min=5, max=42))
    bic = fields.Str(allow_none=True, validate=validate.Length(max=11))


class OrganisationRefSchema(Schema):
    id = fields.Int()
    name = fields.Str()
    kind = fields.Enum(OrganisationKind, by_value=True)


class MeSchema(Schema):
    id = fields.Int()
    email = fields.Str()
    full_name = fields.Str()
    roles = fields.List(fields.Enum(Role, by_value=True))
    language = fields.Enum(Language, by_value=True)
    channel_preference = fields.Enum(Channel, by_value=True)
    organisation = fields.Nested(OrganisationRefSchema)


class OfficeHolderSchema(Schema):
    id = fields.Int(dump_only=True)
    organisation_id = fields.Int(dump_only=True)
    full_name = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    office_type = fields.Enum(OfficeType, by_value=True, required=True)
    term_start = fields.Date(required=True)
    term_end = fields.Date(allow_none=True, load_default=None)
    appointment_certain_on = fields.Date(allow_none=True, load_default=None)
    user_id = fields.Int(allow_none=True, load_default=None, strict=True)
    eligible_by_default = fields.Bool(dump_only=True)

    @validates_schema
    def term_in_order(self, data: dict, **kwargs: object) -> None:
        start, end = data.get("term_start"), data.get("term_end")
        if start and end and end < start:
            raise ValidationError("The term cannot end before it starts.", "term_end")


class OfficeHolderPatchSchema(Schema):
    full_name = fields.Str(validate=validate.Length(min=1, max=200))
    office_type = fields.Enum(OfficeType, by_value=True)
    term_start = fields.Date()
    term_end = fields.Date(allow_none=True)
    appointment_certain_on = fields.Date(allow_none=True)
    user_id = fields.Int(allow_none=True, strict=True)


class ProblemSchema(Schema):
    type = fields.Str()
    title = fields.Str()
    status = fields.Int()
    detail = fields.Str()
    errors = fields.Dict()
