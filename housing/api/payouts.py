"""API v1: payout requests, the finance check of each payout, and closing a grant's rest.

Each call is one service call in the request's unit of work, refused as problem+json (4xx).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import fields, validate

from housing.api.auth import api_scope, api_user, token_required
from housing.api.blueprint import (
    BODY_ID,
    Blueprint,
    RequestSchema,
    by_event,
    event_field,
    link,
    linked,
    one_of_by_event,
)
from housing.api.dumping import Schema
from housing.api.paging import page_of
from housing.audit.models import AuditEvent
from housing.claims.models import Claim
from housing.claims.queries import loaded_claim
from housing.dates import evidence_day
from housing.db import db
from housing.ids import id_field
from housing.inputs import text_field
from housing.money import Money
from housing.payments import queries
from housing.payments.models import Payout, PayoutKind, RemainderClosure
from housing.payments.services import PayoutInput, PayoutService
from housing.roles import Role
from workflows.payments import PayoutState

blp = Blueprint("api_payouts", __name__, url_prefix="/api/v1", description="Payouts")
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
# Who reads payouts: the scope narrows it (an applicant their own claims' payouts only).
PAYOUT_READERS = (Role.APPLICANT, Role.ASSESSOR, Role.DECIDER, Role.FINANCE)


class PayoutSchema(Schema):
    id = fields.Int()
    claim_id = fields.Int()
    measure_line_id = fields.Int()
    kind = fields.Str(validate=validate.OneOf([k.value for k in PayoutKind]))
    state = fields.Str(validate=validate.OneOf([s.value for s in PayoutState]))
    payee_name = fields.Str()
    payee_iban = fields.Str(
        metadata={"description": "In full for finance; others see the last four characters."}
    )
    payee_bic = fields.Str(allow_none=True)
    amount = Money.out()
    vat_amount = Money.out()
    invoice_number = fields.Str()
    invoice_date = fields.Date()
    document_id = fields.Int(allow_none=True)
    requested_by_id = fields.Int(allow_none=True)
    first_approved_by_id = fields.Int(allow_none=True)
    approved_by_id = fields.Int(allow_none=True)
    decision_reason = fields.Str(allow_none=True)
    return_reason_code = fields.Str(allow_none=True)
    return_reason = fields.Str(allow_none=True, metadata={"description": "In Dutch."})
    created_at = fields.DateTime()


class PayoutInSchema(RequestSchema):
    measure_line_id = id_field(required=True)
    payee_name = text_field(Payout.payee_name, min_length=1, required=True)
    # As typed, with spaces: longer than the column, which holds it without them.
    payee_iban = fields.Str(required=True, validate=validate.Length(min=1, max=42))
    payee_bic = text_field(Payout.payee_bic, allow_none=True, load_default=None)
    amount = Money(required=True)
    vat_amount = Money(required=True)
    invoice_number = text_field(Payout.invoice_number, min_length=1, required=True)
    invoice_date = evidence_day(required=True)
    document_id = id_field(allow_none=True, load_default=None)


class LineBalanceSchema(Schema):
    measure_line_id = fields.Int()
    catalogue_code = fields.Str()
    granted_amount = Money.out(allow_none=True)
    unpaid_amount = Money.out(
        metadata={"description": "Granted and not yet taken by a live payout."}
    )


class RemainderClosureSchema(Schema):
    claim_id = fields.Int()
    closed_by_id = fields.Int()
    closed_at = fields.DateTime()
    reason = fields.Str()
    released = Money.out(metadata={"description": "What went back to the budget."})
    budget_year = fields.Int(allow_none=True)
    claim_state = fields.Str(
        metadata={"description": "settled, or in_payment while payouts sent are not booked."}
    )


class RemainderCloseSchema(RequestSchema):
    reason = text_field(RemainderClosure.reason, min_length=1, required=True)


class ClaimPayoutsSchema(Schema):
    lines = fields.List(fields.Nested(LineBalanceSchema))
    payouts = fields.List(fields.Nested(PayoutSchema))
    closure = fields.Nested(
        RemainderClosureSchema,
        allow_none=True,
        metadata={"description": "Set once finance closed what was left of the grant."},
    )


class PayoutFilterSchema(RequestSchema):
    state = fields.Str(validate=validate.OneOf([s.value for s in PayoutState]))
    claim_id = id_field(strict=False)


class CorrectionSchema(RequestSchema):
    payee_iban = fields.Str(required=True, validate=validate.Length(min=1, max=42))
    payee_bic = text_field(Payout.payee_bic, allow_none=True, load_default=None)
    payee_name = text_field(Payout.payee_name, allow_none=True, load_default=None)


class PayoutEventApprove(RequestSchema):
    """Above your approval limit it is the first of two approvals."""

    event = event_field("approve")
    reason = text_field(AuditEvent.reason, allow_none=True, load_default=None)


class PayoutEventReject(RequestSchema):
    event = event_field("reject")
    reason = text_field(AuditEvent.reason, min_length=1, required=True)


class PayoutEventCancel(RequestSchema):
    event = event_field("cancel")
    reason = text_field(AuditEvent.reason, min_length=1, required=True)


class PayoutEventCorrect(RequestSchema):
    """After a return: the new account, and why."""

    event = event_field("correct")
    reason = text_field(AuditEvent.reason, min_length=1, required=True)
    correction = fields.Nested(CorrectionSchema, required=True)


# What each event of `PayoutService.decide` reads: the reason, and `correct` the account.
PAYOUT_EVENT_BODIES: dict[str, type[Schema]] = {
    "approve": PayoutEventApprove,
    "reject": PayoutEventReject,
    "cancel": PayoutEventCancel,
    "correct": PayoutEventCorrect,
}
PayoutEventSchema = by_event("PayoutEvent", PAYOUT_EVENT_BODIES)


def _payout(payout: Payout) -> dict[str, Any]:
    data = {name: getattr(payout, name) for name in PayoutSchema().fields}
    data["kind"] = payout.kind.value
    # Finance pays and checks accounts; to everyone else an account is enough to recognise.
    if not api_user().has_role(Role.FINANCE):
        data["payee_iban"] = queries.mask_iban(payout.payee_iban)
    return data


@blp.route("/claims/<int:claim_id>/payouts")
class ClaimPayouts(MethodView):
    @token_required(*PAYOUT_READERS)
    @blp.doc(security=SECURITY)
    @blp.response(200, ClaimPayoutsSchema)
    def get(self, claim_id: int) -> dict[str, Any]:
        """A claim's payouts, and what each measure line has left of its grant."""
        claim = loaded_claim(db.session, api_scope(), claim_id)
        unpaid = queries.unpaid_by_line(db.session, claim)
        return {
            "lines": [
                {
                    "measure_line_id": line.id,
                    "catalogue_code": line.catalogue_code,
                    "granted_amount": line.granted_amount,
                    "unpaid_amount": unpaid[line.id],
                }
                for line in claim.lines
            ],
            "payouts": [
                _payout(p) for p in queries.claim_payouts(db.session, api_scope(), claim.id)
            ],
            "closure": _closure(closure, claim)
            if (closure := db.session.get(RemainderClosure, claim.id))
            else None,
        }

    @token_required(Role.APPLICANT, Role.ASSESSOR)
    @blp.doc(security=SECURITY)
    @blp.doc(
        **linked(
            201,
            DecidePayout=link("post", "/payouts/{payout_id}/events", payout_id=BODY_ID),
            ClaimPayouts=link(
                "get", "/claims/{claim_id}/payouts", claim_id="$request.path.claim_id"
            ),
        )
    )
    @blp.arguments(PayoutInSchema)
    @blp.response(201, PayoutSchema)
    @blp.alt_response(409, description="The claim is not granted (or no longer in payment).")
    def post(self, data: dict[str, Any], claim_id: int) -> dict[str, Any]:
        """Send in a receipt (regime A, the applicant) or a supplier invoice (B, assessor)."""
        payout = PayoutService(db.session).request(
            api_scope(), api_user(), claim_id, PayoutInput(**data)
        )
        return _payout(payout)


def _closure(closure: RemainderClosure, claim: Claim) -> dict[str, Any]:
    data = {
        name: getattr(closure, name)
        for name in RemainderClosureSchema().fields
        if name != "claim_state"
    }
    data["claim_state"] = str(claim.state)
    return data


@blp.route("/claims/<int:claim_id>/payouts/close-remainder")
class CloseRemainder(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.arguments(RemainderCloseSchema)
    @blp.response(200, RemainderClosureSchema)
    @blp.alt_response(
        409, description="Not granted, closed already, or payouts not decided or not sent."
    )
    def post(self, data: dict[str, Any], claim_id: int) -> dict[str, Any]:
        """Close what is left of the grant, with a reason: nothing more is paid.

        What no payout stands for goes back to the budget of the grant's year; the claim
        is settled at once, or once the payouts sent are booked.
        """
        closure = PayoutService(db.session).close_remainder(
            api_scope(), api_user(), claim_id, reason=data["reason"]
        )
        claim = db.session.get(Claim, claim_id)
        assert claim is not None
        return _closure(closure, claim)


@blp.route("/payouts")
class Payouts(MethodView):
    @token_required(*PAYOUT_READERS)
    @blp.doc(security=SECURITY)
    @blp.arguments(PayoutFilterSchema, location="query")
    @blp.response(200, PayoutSchema(many=True))
    @blp.paginate()
    def get(
        self, filters: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Payouts you may see, the oldest first; filter by `state` or `claim_id`."""
        query = api_scope().select(Payout)
        if "state" in filters:
            query = query.where(Payout.state == filters["state"])
        if "claim_id" in filters:
            query = query.where(Payout.claim_id == filters["claim_id"])
        ordered = query.order_by(Payout.created_at, Payout.id)
        return [_payout(p) for p in page_of(ordered, pagination_parameters)]


@blp.route("/payouts/<int:payout_id>/events")
class PayoutEvents(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY, requestBody=one_of_by_event(PAYOUT_EVENT_BODIES))
    @blp.arguments(PayoutEventSchema)
    @blp.response(200, PayoutSchema)
    @blp.alt_response(403, description="Dual control or the approval limit refuses it.")
    @blp.alt_response(409, description="Not possible in the payout's state.")
    def post(self, data: dict[str, Any], payout_id: int) -> dict[str, Any]:
        """Approve, reject (with a reason), cancel (with a reason), or correct a return.

        Above your approval limit an approval is the first of two (`first_approved`).
        """
        payout = PayoutService(db.session).decide(
            api_scope(),
            api_user(),
            payout_id,
            data["event"],
            reason=data["reason"],
            correction=data.get("correction"),
        )
        return _payout(payout)
