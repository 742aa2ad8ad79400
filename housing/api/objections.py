"""API v1: objections against a claim's decisions (bezwaar), each its own small case."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from marshmallow import fields

from housing import services
from housing.api.auth import api_scope, api_user, token_required
from housing.api.blueprint import Blueprint, RequestSchema
from housing.api.dumping import Schema
from housing.claims.models import Objection
from housing.dates import evidence_day
from housing.db import db
from housing.ids import id_field
from housing.inputs import text_field
from housing.roles import Role

blp = Blueprint(
    "api_objections", __name__, url_prefix="/api/v1", description="Objections to decisions"
)
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


class ObjectionInSchema(RequestSchema):
    decision_id = id_field(required=True)
    grounds = text_field(Objection.grounds, min_length=1, required=True)
    # Staff register a paper objection with the day it was received; without it, the
    # applicant lodges one today.
    received_on = evidence_day(allow_none=True, load_default=None)


class ObjectionSchema(Schema):
    id = fields.Int()
    decision_id = fields.Int()
    state = fields.Function(lambda o: o.state.value)
    lodged_on = fields.Date()
    term_ends_on = fields.Date()
    late = fields.Bool(metadata={"description": "Received after the term (art. 6:11 Awb)."})
    on_paper = fields.Bool()
    grounds = fields.Str()
    reasons = fields.Str(allow_none=True)
    outcome_decision_id = fields.Int(allow_none=True)


@blp.route("/claims/<int:claim_id>/objections")
class ClaimObjections(MethodView):
    @token_required(Role.APPLICANT, Role.ASSESSOR, Role.DECIDER)
    @blp.doc(security=SECURITY)
    @blp.response(200, ObjectionSchema(many=True))
    def get(self, claim_id: int) -> Sequence[Objection]:
        """The claim's objections, oldest first."""
        service = services.objections(db.session)
        # The claim must be visible: an unknown or another's claim is a 404, not [].
        service.claim(api_scope(), claim_id)
        return service.of_claim(api_scope(), claim_id)

    @token_required(Role.APPLICANT, Role.ASSESSOR)
    @blp.doc(security=SECURITY)
    @blp.arguments(ObjectionInSchema)
    @blp.response(201, ObjectionSchema)
    @blp.alt_response(409, description="An objection against this decision is being handled.")
    def post(self, data: dict[str, Any], claim_id: int) -> Objection:
        """Lodge an objection (applicant), or register one received on paper (staff, with
        `received_on`). A late one is lodged and flagged `late`, not refused."""
        service = services.objections(db.session)
        if data["received_on"] is None:
            return service.lodge(
                api_scope(),
                api_user(),
                claim_id,
                decision_id=data["decision_id"],
                grounds=data["grounds"],
            )
        return service.register(
            api_scope(),
            api_user(),
            claim_id,
            decision_id=data["decision_id"],
            grounds=data["grounds"],
            received_on=data["received_on"],
        )
