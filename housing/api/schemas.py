"""Marshmallow schemas of the API; unknown fields are refused (422)."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from flask_smorest.fields import Upload
from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from housing.accounts.models import Channel, Language
from housing.api.blueprint import RequestSchema, event_field
from housing.api.dumping import Schema
from housing.api.paging import MAX_PAGE_SIZE, PAGE_SIZE
from housing.audit.models import AuditEvent
from housing.claims.models import (
    Confidentiality,
    DecisionKind,
    DocumentKind,
    InformationRequest,
    MeasureLine,
    SecurityAdvice,
    WoningScan,
)
from housing.claims.queries import CURSOR_PATTERN, DeadlineCursor
from housing.dates import Day, evidence_day
from housing.ids import id_field
from housing.inputs import text_field
from housing.money import Money
from housing.organisations.models import (
    MeasureCatalogue,
    OfficeHolder,
    OfficeType,
    Organisation,
    OrganisationKind,
)
from housing.roles import Role
from workflows.awb import ClockState
from workflows.claim import EVENT_ROLES, ClaimEvent, ClaimState
from workflows.rules import Role as WorkflowRole

# Events of the system (terms running out, payments) are never fired through the API.
API_CLAIM_EVENTS = [e for e in ClaimEvent if EVENT_ROLES[e] is not WorkflowRole.SYSTEM]


class OrganisationSchema(RequestSchema):
    id = fields.Int(dump_only=True)
    kind = fields.Enum(OrganisationKind, by_value=True, dump_only=True)
    name = text_field(Organisation.name, min_length=1, required=True)
    # As typed, with spaces: longer than the column, which holds it without them.
    iban = fields.Str(required=True, validate=validate.Length(min=5, max=42))
    bic = text_field(Organisation.bic, allow_none=True)


class OrganisationPatchSchema(RequestSchema):
    name = text_field(Organisation.name, min_length=1)
    iban = fields.Str(validate=validate.Length(min=5, max=42))
    bic = text_field(Organisation.bic, allow_none=True)


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


class OfficeHolderSchema(RequestSchema):
    id = fields.Int(dump_only=True)
    organisation_id = fields.Int(dump_only=True)
    full_name = text_field(OfficeHolder.full_name, min_length=1, required=True)
    office_type = fields.Enum(OfficeType, by_value=True, required=True)
    term_start = Day(required=True)
    term_end = Day(allow_none=True, load_default=None)
    appointment_certain_on = Day(allow_none=True, load_default=None)
    user_id = id_field(allow_none=True, load_default=None)
    eligible_by_default = fields.Bool(dump_only=True)

    @validates_schema
    def term_in_order(self, data: dict[str, Any], **kwargs: object) -> None:
        start, end = data.get("term_start"), data.get("term_end")
        if start and end and end < start:
            raise ValidationError("The term cannot end before it starts.", "term_end")


class OfficeHolderPatchSchema(RequestSchema):
    full_name = text_field(OfficeHolder.full_name, min_length=1)
    office_type = fields.Enum(OfficeType, by_value=True)
    term_start = Day()
    term_end = Day(allow_none=True)
    appointment_certain_on = Day(allow_none=True)
    user_id = id_field(allow_none=True)


class ClaimCreateSchema(RequestSchema):
    home_id = id_field(required=True)


class MeasureLineInSchema(RequestSchema):
    catalogue_code = text_field(MeasureCatalogue.code, min_length=1, required=True)
    description = text_field(MeasureLine.description, min_length=1, required=True)
    requested_amount = Money(required=True)
    vat_amount = Money(required=True)
    recurrence = fields.Str(load_default="one_off")
    supplier_name = text_field(MeasureLine.supplier_name, allow_none=True, load_default=None)


class MeasureLineSchema(Schema):
    id = fields.Int()
    catalogue_code = fields.Str()
    description = fields.Str()
    requested_amount = Money.out()
    vat_amount = Money.out()
    granted_amount = Money.out(allow_none=True)
    grant_reason = fields.Str(allow_none=True)
    recurrence = fields.Str()
    supplier_name = fields.Str(allow_none=True)


class DeadlineSchema(Schema):
    decision_deadline = fields.Date(allow_none=True)
    days_left = fields.Int(
        allow_none=True, metadata={"description": "Negative when overdue; null once decided."}
    )
    clock = fields.Str(
        allow_none=True,
        validate=validate.OneOf([*(s.value for s in ClockState), "decided", "stopped"]),
        metadata={"description": "decided: the term ended with the decision."},
    )
    decided_on = fields.Date(
        allow_none=True, metadata={"description": "The day the decision was sent."}
    )
    objection_deadline = fields.Date(
        allow_none=True,
        metadata={"description": "The last day to object to the decision (6 weeks, Awb)."},
    )


class DecisionLetterSchema(Schema):
    decision_id = fields.Int()
    kind = fields.Str(validate=validate.OneOf([k.value for k in DecisionKind]))
    being_prepared = fields.Bool(
        metadata={"description": "The letter is laid out after the decision; poll the claim."}
    )
    document_id = fields.Int(allow_none=True)
    href = fields.Str(allow_none=True, metadata={"description": "Download the letter here."})


class ClaimSchema(Schema):
    id = fields.Int()
    number = fields.Str()
    state = fields.Str(validate=validate.OneOf([s.value for s in ClaimState]))
    regime = fields.Str(allow_none=True, validate=validate.OneOf(["A", "B"]))
    office_holder_id = fields.Int()
    home_id = fields.Int()
    application_date = fields.Date(allow_none=True)
    received_on = fields.Date(allow_none=True)
    assessor_id = fields.Int(allow_none=True)
    proposed_by_id = fields.Int(allow_none=True)
    decided_by_id = fields.Int(allow_none=True)
    deadline = fields.Nested(DeadlineSchema)
    lines = fields.List(fields.Nested(MeasureLineSchema))
    decision_letter = fields.Nested(
        DecisionLetterSchema,
        allow_none=True,
        metadata={"description": "The latest decision's letter; null before any decision."},
    )


class HistoryEntrySchema(Schema):
    sequence = fields.Int()
    occurred_at = fields.DateTime()
    event = fields.Str()
    from_state = fields.Str(allow_none=True)
    to_state = fields.Str(allow_none=True)
    actor_id = fields.Int(allow_none=True)
    reason = fields.Str(allow_none=True)


class HomeSchema(Schema):
    id = fields.Int()
    office_holder_id = fields.Int()
    street = fields.Str()
    house_number = fields.Str()
    postcode = fields.Str()
    city = fields.Str()
    is_registered_address = fields.Bool()


class CatalogueItemSchema(Schema):
    code = fields.Str()
    name = fields.Str()
    is_basic_measure = fields.Bool()
    recurring_allowed = fields.Bool()


class LateDecisionSchema(Schema):
    notice_received_on = fields.Date(allow_none=True)
    penalty_starts_on = fields.Date(allow_none=True)
    penalty_days = fields.Int(allow_none=True)
    penalty_amount = Money.out(allow_none=True)
    penalty_fixed_amount = Money.out(allow_none=True)


class ClaimDetailSchema(ClaimSchema):
    allowed_events = fields.List(
        fields.Str(validate=validate.OneOf([e.value for e in API_CLAIM_EVENTS])),
        metadata={"description": "The events you may fire now (the rules still apply)."},
    )
    history = fields.List(fields.Nested(HistoryEntrySchema))
    late_decision = fields.Nested(LateDecisionSchema)
    # A decision's letter is laid out by a worker after the commit; until then it is True.
    letter_being_prepared = fields.Bool()


class ScanInSchema(RequestSchema):
    adviser_name = text_field(WoningScan.adviser_name, min_length=1, required=True)
    scan_date = evidence_day(required=True)
    pkvw_status = fields.Str(
        required=True, validate=validate.OneOf(["certified", "not_certified", "unknown"])
    )
    findings = text_field(WoningScan.findings, min_length=1, required=True)


class ScanSchema(Schema):
    """What was recorded; the findings themselves are not echoed back."""

    adviser_name = fields.Str()
    scan_date = fields.Date()
    pkvw_status = fields.Str()


class DefaultNoticeInSchema(RequestSchema):
    # Staff give the day a paper notice arrived; an applicant's notice arrives today.
    received_on = evidence_day(allow_none=True, load_default=None)


class DefaultNoticeSchema(Schema):
    received_on = fields.Date()
    penalty_starts_on = fields.Date()


class PenaltyDecisionSchema(Schema):
    decision_id = fields.Int()
    penalty_amount = Money.out()
    days = fields.Int()
    sent_on = fields.Date()
    letter_document_id = fields.Int(allow_none=True)


class ClaimFilterSchema(RequestSchema):
    state = fields.Str(validate=validate.OneOf([s.value for s in ClaimState]))
    regime = fields.Str(validate=validate.OneOf(["A", "B"]))


class DeadlineCursorField(fields.Str):
    """Where the previous page ended (`housing.claims.queries.DeadlineCursor`)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return DeadlineCursor.parse(super()._deserialize(value, attr, data, **kwargs))
        except ValueError:
            raise ValidationError("Not a cursor of this list: copy it from its Link.") from None


class ClaimListSchema(ClaimFilterSchema):
    page_size = fields.Int(
        load_default=PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE)
    )
    after = DeadlineCursorField(
        metadata={
            "pattern": CURSOR_PATTERN,
            "description": "The next page: the cursor in the previous page's `Link` header"
            " (rel=next). A claim added meanwhile never shifts the pages.",
        },
    )
    page = fields.Int(
        load_default=1,
        validate=validate.Range(min=1),
        metadata={
            "deprecated": True,
            "description": "Page by number (read by skipping the rows before it): follow"
            " the `Link` header's next page (`after`) instead.",
        },
    )
    count = fields.Bool(
        load_default=False,
        metadata={
            "description": "Count the whole list too (`total` and `total_pages` in"
            " X-Pagination); it costs a count of every claim the filters let through."
        },
    )

    @validates_schema
    def one_way_of_paging(self, data: dict[str, Any], **kwargs: object) -> None:
        if "after" in data and data["page"] != 1:
            raise ValidationError("Page by `after` or by `page`, not both.", "page")


class RequestInfoDetails(RequestSchema):
    question = text_field(InformationRequest.question, min_length=1, required=True)
    term_days = fields.Int(
        strict=True,
        validate=validate.Range(min=1, max=365),
        metadata={"description": "Default: the organisation's information term."},
    )


class ProvideInfoDetails(RequestSchema):
    answer = text_field(InformationRequest.answer, min_length=1, required=True)


class RecordAdviceDetails(RequestSchema):
    reference = text_field(SecurityAdvice.reference, min_length=1, required=True)
    advice_date = evidence_day(required=True)
    advised_measures = fields.List(
        text_field(MeasureCatalogue.code, min_length=1),
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Catalogue codes of the measures advised."},
    )
    contents = text_field(SecurityAdvice.contents)


LINE_ID = r"^[1-9][0-9]{0,9}$"
LINE_ID_KEY = fields.Str(validate=validate.Regexp(LINE_ID))


class ProposeDecisionDetails(RequestSchema):
    granted = fields.Dict(
        keys=LINE_ID_KEY,
        values=Money(),
        required=True,
        metadata={
            "description": "Per measure line id: the amount to grant (0 refuses it).",
            "propertyNames": {"pattern": LINE_ID},
        },
    )
    line_reasons = fields.Dict(
        keys=LINE_ID_KEY,
        values=text_field(MeasureLine.grant_reason),
        metadata={
            "description": "Per measure line id: why less was granted.",
            "propertyNames": {"pattern": LINE_ID},
        },
    )


class NoDetails(RequestSchema):
    """This event takes no details."""


# What `details` each event takes: the keys WorkflowService.fire reads.
EVENT_DETAILS: dict[ClaimEvent, type[Schema]] = {
    ClaimEvent.REQUEST_INFO: RequestInfoDetails,
    ClaimEvent.PROVIDE_INFO: ProvideInfoDetails,
    ClaimEvent.RECORD_ADVICE: RecordAdviceDetails,
    ClaimEvent.PROPOSE_DECISION: ProposeDecisionDetails,
}


class ClaimEventSchema(RequestSchema):
    event = fields.Str(required=True, validate=validate.OneOf([e.value for e in API_CLAIM_EVENTS]))
    reason = text_field(AuditEvent.reason, allow_none=True, load_default=None)
    details = fields.Dict(load_default=dict)

    @post_load
    def typed_details(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        schema = _details_schema(ClaimEvent(data["event"]))
        try:
            data["details"] = schema.load(data["details"])
        except ValidationError as refused:
            raise ValidationError({"details": refused.messages}) from None
        return data


@cache
def _details_schema(event: ClaimEvent) -> Schema:
    """The schema of an event's details, made once: making a schema costs a request more
    than loading a body with it, and a schema that loads keeps nothing of a body."""
    return EVENT_DETAILS.get(event, NoDetails)()


def claim_event_bodies() -> dict[str, type[Schema]]:
    """One documented body per event (its `details` typed), for a oneOf on `event`."""
    bodies: dict[str, type[Schema]] = {}
    for event in API_CLAIM_EVENTS:
        details = EVENT_DETAILS.get(event, NoDetails)
        name = "".join(part.title() for part in event.value.split("_"))
        # A subclass of RequestSchema, though `from_dict` is typed as marshmallow's.
        bodies[event.value] = cast(
            type[Schema],
            RequestSchema.from_dict(
                {
                    "event": event_field(event.value),
                    "reason": text_field(AuditEvent.reason, allow_none=True),
                    "details": fields.Nested(details, required=details is not NoDetails),
                },
                name=f"ClaimEvent{name}",
            ),
        )
    return bodies


class DocumentUploadFileSchema(Schema):
    file = Upload(required=True)


class DocumentUploadFormSchema(RequestSchema):
    kind = fields.Str(required=True)


class DocumentSchema(Schema):
    id = fields.Int()
    kind = fields.Str(validate=validate.OneOf([k.value for k in DocumentKind]))
    confidentiality = fields.Str(validate=validate.OneOf([k.value for k in Confidentiality]))
    filename = fields.Str()
    content_type = fields.Str()
    size_bytes = fields.Int()
    sha256 = fields.Str()
    created_at = fields.DateTime()
