"""API v1: payment batches under dual control, and their frozen payment files.

Building a batch is a job, as in the UI: `POST /batches` answers 202 with the job to poll
(`GET /jobs/{id}`), whose result names the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Response, url_for
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters
from marshmallow import fields

from housing.api.auth import api_scope, api_user, token_required
from housing.api.blueprint import (
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
from housing.dates import Day
from housing.db import db
from housing.downloads import attachment
from housing.errors import Conflict
from housing.inputs import text_field
from housing.jobs.services import JobService
from housing.money import Money
from housing.payments import queries
from housing.payments.batches import BatchService
from housing.payments.jobs import PAYMENT_BATCH_BUILD
from housing.payments.models import PaymentBatch
from housing.payments.services import PayoutService
from housing.roles import Role

blp = Blueprint("api_batches", __name__, url_prefix="/api/v1", description="Payment batches")
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


class BatchSchema(Schema):
    id = fields.Int()
    state = fields.Str()
    msg_id = fields.Str()
    pmt_inf_id = fields.Str()
    pain_version = fields.Str()
    execution_date = fields.Date()
    item_count = fields.Int()
    total = Money.out()
    created_by_id = fields.Int()
    created_at = fields.DateTime()
    approved_by_id = fields.Int(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    released_by_id = fields.Int(allow_none=True)
    released_at = fields.DateTime(allow_none=True)
    cancel_reason = fields.Str(allow_none=True)
    file_sha256 = fields.Str(allow_none=True)


class BatchItemSchema(Schema):
    payout_id = fields.Int()
    claim_number = fields.Str()
    end_to_end_id = fields.Str()
    payee_name = fields.Str()
    payee_iban = fields.Str()
    amount = Money.out()
    payout_state = fields.Str()


class BatchDetailSchema(BatchSchema):
    items = fields.List(fields.Nested(BatchItemSchema))


class BatchBuildSchema(RequestSchema):
    execution_date = Day(
        allow_none=True, load_default=None, metadata={"description": "Default: today."}
    )


class BatchBuildJobSchema(Schema):
    job_id = fields.Int()
    status = fields.Str()
    href = fields.Str(metadata={"description": "Poll this job; its result has `batch_id`."})


class BatchEventApprove(RequestSchema):
    event = event_field("approve")


class BatchEventRelease(RequestSchema):
    event = event_field("release")


class BatchEventCancel(RequestSchema):
    event = event_field("cancel")
    reason = text_field(AuditEvent.reason, min_length=1, required=True)


# What each event of `BatchService.fire` reads: only a cancellation takes a reason.
BATCH_EVENT_BODIES: dict[str, type[Schema]] = {
    "approve": BatchEventApprove,
    "release": BatchEventRelease,
    "cancel": BatchEventCancel,
}
BatchEventSchema = by_event("BatchEvent", BATCH_EVENT_BODIES)


@blp.route("/batches")
class Batches(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.response(200, BatchSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> Sequence[PaymentBatch]:
        """The organisation's payment batches, the newest first."""
        query = api_scope().select(PaymentBatch)
        ordered = query.order_by(PaymentBatch.created_at.desc(), PaymentBatch.id.desc())
        return page_of(ordered, pagination_parameters)

    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.doc(**linked(202, PollJob=link("get", "/jobs/{job_id}", job_id="$response.body#/job_id")))
    @blp.arguments(BatchBuildSchema)
    @blp.response(202, BatchBuildJobSchema)
    @blp.alt_response(409, description="There are no approved payouts to pay.")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Build a batch of every approved payout: starts a job and answers at once."""
        scope = api_scope()
        execution_date = queries.check_execution_date(
            data["execution_date"], PayoutService(db.session).today()
        )
        if not queries.count_approved(db.session, scope):
            raise Conflict(_l("There are no approved payouts to pay."))
        job = JobService(db.session).start(
            scope,
            api_user(),
            PAYMENT_BATCH_BUILD,
            {"execution_date": execution_date.isoformat()},
        )
        return {
            "job_id": job.id,
            "status": job.status.value,
            "href": url_for("api_jobs.JobItem", job_id=job.id),
        }


def _batch_detail(batch_id: int) -> dict[str, Any]:
    found = api_scope().get(db.session, PaymentBatch, batch_id)
    if found is None:
        abort(404, message="No such batch.")
    data = {name: getattr(found, name) for name in BatchSchema().fields}
    data["items"] = [
        {
            "payout_id": row.item.payout_id,
            "claim_number": row.claim_number,
            "end_to_end_id": row.item.end_to_end_id,
            "payee_name": row.item.payee_name,
            "payee_iban": row.item.payee_iban,
            "amount": row.item.amount,
            "payout_state": row.payout_state,
        }
        for row in queries.batch_items(db.session, found.id)
    ]
    return data


@blp.route("/batches/<int:batch_id>")
class BatchItem(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.response(200, BatchDetailSchema)
    def get(self, batch_id: int) -> dict[str, Any]:
        """One batch with its payments (end-to-end id, payee, amount, state)."""
        return _batch_detail(batch_id)


@blp.route("/batches/<int:batch_id>/events")
class BatchEvents(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY, requestBody=one_of_by_event(BATCH_EVENT_BODIES))
    @blp.arguments(BatchEventSchema)
    @blp.response(200, BatchSchema)
    @blp.alt_response(403, description="Dual control: who approved it does not release it.")
    @blp.alt_response(409, description="Not possible in the batch's state.")
    def post(self, data: dict[str, Any], batch_id: int) -> PaymentBatch:
        """Approve, release (a second finance user; repeated, it changes nothing) or cancel
        (with a reason, only before release)."""
        return BatchService(db.session).fire(
            api_scope(), api_user(), batch_id, data["event"], reason=data.get("reason")
        )


@blp.route("/batches/<int:batch_id>/file")
class BatchFile(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.response(200, description="The frozen pain.001 (application/xml), byte for byte.")
    @blp.alt_response(409, description="The batch is not released yet.")
    def get(self, batch_id: int) -> Response:
        """The payment file of a released batch; every download gives the same bytes."""
        found = api_scope().get(db.session, PaymentBatch, batch_id)
        if found is None:
            abort(404, message="No such batch.")
        data = BatchService(db.session).file(api_scope(), found.id, user=api_user())
        return attachment(data, mimetype="application/xml", filename=f"{found.msg_id}.xml")
