"""API v1: bank statements (camt.053) imported as a job, and the review queue of entries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest.fields import Upload
from flask_smorest.pagination import PaginationParameters
from marshmallow import fields, validate
from werkzeug.datastructures import FileStorage

from housing import services
from housing.api.auth import api_scope, api_user, token_required
from housing.api.blueprint import Blueprint, RequestSchema, link, linked
from housing.api.dumping import Schema
from housing.api.paging import page_of
from housing.audit.models import AuditEvent
from housing.db import db
from housing.ids import id_field
from housing.inputs import accepts_upload, text_field
from housing.jobs.services import JobService
from housing.money import Money
from housing.payments import statement_queries
from housing.payments.models import BankStatement
from housing.payments.statements import STATEMENT_IMPORT, ReviewQueue
from housing.roles import Role

blp = Blueprint("api_statements", __name__, url_prefix="/api/v1", description="Bank statements")
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


class StatementUploadSchema(Schema):
    file = Upload(required=True, metadata={"description": "A camt.053.001.02 file (XML)."})


class StatementImportJobSchema(Schema):
    job_id = fields.Int()
    status = fields.Str()
    href = fields.Str(metadata={"description": "Poll this job; its result has the figures."})


class BankStatementSchema(Schema):
    id = fields.Int()
    statement_ident = fields.Str()
    account_iban = fields.Str()
    sequence_number = fields.Int(allow_none=True)
    opening_balance = Money.out()
    closing_balance = Money.out()
    opening_date = fields.Date(allow_none=True)
    closing_date = fields.Date(allow_none=True)
    balance_gap = fields.Bool(
        metadata={"description": "The opening balance does not follow the previous closing."}
    )
    file_sha256 = fields.Str()
    imported_by_id = fields.Int()
    created_at = fields.DateTime()


class StatementEntrySchema(Schema):
    id = fields.Int()
    statement_id = fields.Int()
    statement_ident = fields.Str()
    entry_reference = fields.Str()
    amount = Money.out()
    open_amount = Money.out(metadata={"description": "Not yet booked."})
    credit = fields.Bool()
    booking_date = fields.Date(allow_none=True)
    end_to_end_ids = fields.Str(allow_none=True, metadata={"description": "Comma-separated."})
    pmt_inf_id = fields.Str(allow_none=True)
    counterparty = fields.Str(allow_none=True)
    remittance = fields.Str(allow_none=True)
    status = fields.Str()
    note = fields.Str(allow_none=True)
    resolved_by_id = fields.Int(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)


class StatementEntryFilterSchema(RequestSchema):
    status = fields.Str(
        validate=validate.OneOf([s.value for s in statement_queries.REVIEW_STATUSES]),
        metadata={"description": "Default: both unmatched and duplicate."},
    )


class MatchSchema(RequestSchema):
    payout_id = id_field(required=True)
    reason = text_field(AuditEvent.reason, min_length=1, required=True)


class DismissSchema(RequestSchema):
    reason = text_field(AuditEvent.reason, min_length=1, required=True)


def _entry(review: ReviewQueue, entry: Any) -> dict[str, Any]:
    names = [name for name in StatementEntrySchema().fields if name != "open_amount"]
    data = {name: getattr(entry, name) for name in names}
    data["status"] = entry.status.value
    data["open_amount"] = review.open_amount(entry)
    return data


@blp.route("/statements")
class Statements(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.response(200, BankStatementSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> Sequence[BankStatement]:
        """Imported bank statements, the newest first."""
        query = api_scope().select(BankStatement)
        ordered = query.order_by(BankStatement.created_at.desc(), BankStatement.id.desc())
        return page_of(ordered, pagination_parameters)

    @accepts_upload("STATEMENT_MAX_BYTES")
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.doc(**linked(202, PollJob=link("get", "/jobs/{job_id}", job_id="$response.body#/job_id")))
    @blp.arguments(StatementUploadSchema, location="files")
    @blp.response(202, StatementImportJobSchema)
    @blp.alt_response(422, description="No file, an empty one, or not XML.")
    def post(self, files: dict[str, FileStorage]) -> dict[str, Any]:
        """Upload a camt.053: starts the import job and answers at once.

        The job validates the file (schema, size, no declarations); a refused file fails
        the job with the reason, and nothing is imported.
        """
        data = statement_queries.check_upload(files["file"].read())
        key = services.statement_uploads().store(data)
        job = JobService(db.session).start(
            api_scope(), api_user(), STATEMENT_IMPORT, {"upload_key": key}
        )
        return {
            "job_id": job.id,
            "status": job.status.value,
            "href": url_for("api_jobs.JobItem", job_id=job.id),
        }


@blp.route("/statement-entries")
class StatementEntries(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.arguments(StatementEntryFilterSchema, location="query")
    @blp.response(200, StatementEntrySchema(many=True))
    @blp.paginate()
    def get(
        self, filters: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """The review queue: unmatched entries and flagged second debits, oldest first."""
        query = statement_queries.review_query(api_scope(), filters.get("status"))
        review = ReviewQueue(db.session)
        page = page_of(statement_queries.ordered(query), pagination_parameters)
        return [_entry(review, entry) for entry in page]


@blp.route("/statement-entries/<int:entry_id>/match")
class StatementEntryMatch(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.arguments(MatchSchema)
    @blp.response(200, StatementEntrySchema)
    @blp.alt_response(409, description="Not waiting to be matched, or the payout is not sent.")
    def post(self, data: dict[str, Any], entry_id: int) -> dict[str, Any]:
        """Book a sent payout against an unmatched debit of the same amount (audited)."""
        review = ReviewQueue(db.session)
        entry = review.match_by_hand(
            api_scope(), api_user(), entry_id, data["payout_id"], data["reason"]
        )
        return _entry(review, entry)


@blp.route("/statement-entries/<int:entry_id>/dismiss")
class StatementEntryDismiss(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.arguments(DismissSchema)
    @blp.response(200, StatementEntrySchema)
    @blp.alt_response(409, description="The entry is not in the review queue.")
    def post(self, data: dict[str, Any], entry_id: int) -> dict[str, Any]:
        """Close an entry that is not ours to book, with the reason (audited)."""
        review = ReviewQueue(db.session)
        entry = review.dismiss(api_scope(), api_user(), entry_id, data["reason"])
        return _entry(review, entry)
