"""API v1: payout requests, the finance check, and payment batches under dual control.

Each call is one service call in one unit of work, refused as problem+json (4xx). Building
a batch is a job, as in the UI: `POST /batches` answers 202 with the job to poll
(`GET /jobs/{id}`), whose result names the batch.
"""

from __future__ import annotations

import io
from typing import Any

from flask import send_file, url_for
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint, abort
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import selectinload

from housing.api.auth import api_scope, api_user, token_required
from housing.api.paging import page_of
from housing.api.problems import abort_with_problem
from housing.claims.models import Claim
from housing.db import db
from housing.errors import Conflict, DomainError
from housing.jobs.services import JobService
from housing.payments import queries, statement_queries
from housing.payments.batches import BatchService
from housing.payments.jobs import PAYMENT_BATCH_BUILD
from housing.payments.models import BankStatement, PaymentBatch, Payout, RemainderClosure
from housing.payments.services import PayoutInput, PayoutService
from housing.payments.statements import STATEMENT_IMPORT, ReviewQueue, store_upload
from housing.roles import Role
from workflows.payments import PayoutState

blp = Blueprint("api_payments", __name__, url_prefix="/api/v1", description="Payments")
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
# Who reads payouts: the scope narrows it (an applicant their own claims' payouts only).
PAYOUT_READERS = (Role.APPLICANT, Role.ASSESSOR, Role.DECIDER, Role.FINANCE)


# --- schemas ----------------------------------------------------------------------------------
class PayoutSchema(Schema):
    id = fields.Int()
    claim_id = fields.Int()
    measure_line_id = fields.Int()
    kind = fields.Str()
    state = fields.Str()
    payee_name = fields.Str()
    payee_iban = fields.Str(
        metadata={"description": "In full for finance; others see the last four characters."}
    )
    payee_bic = fields.Str(allow_none=True)
    amount = fields.Decimal(as_string=True)
    vat_amount = fields.Decimal(as_string=True)
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


class PayoutInSchema(Schema):
    measure_line_id = fields.Int(required=True, strict=True)
    payee_name = fields.Str(required=True, validate=validate.Length(min=1, max=140))
    payee_iban = fields.Str(required=True, validate=validate.Length(min=1, max=42))
    payee_bic = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=11))
    amount = fields.Decimal(required=True, places=2, as_string=True)
    vat_amount = fields.Decimal(required=True, places=2, as_string=True)
    invoice_number = fields.Str(required=True, validate=validate.Length(min=1, max=60))
    invoice_date = fields.Date(required=True)
    document_id = fields.Int(allow_none=True, load_default=None, strict=True)


class LineBalanceSchema(Schema):
    measure_line_id = fields.Int()
    catalogue_code = fields.Str()
    granted_amount = fields.Decimal(as_string=True, allow_none=True)
    unpaid_amount = fields.Decimal(
        as_string=True, metadata={"description": "Granted and not yet taken by a live payout."}
    )


class RemainderClosureSchema(Schema):
    claim_id = fields.Int()
    closed_by_id = fields.Int()
    closed_at = fields.DateTime()
    reason = fields.Str()
    released = fields.Decimal(
        as_string=True, metadata={"description": "What went back to the budget."}
    )
    budget_year = fields.Int(allow_none=True)
    claim_state = fields.Str(
        metadata={"description": "settled, or in_payment while payouts sent are not booked."}
    )


class RemainderCloseSchema(Schema):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=2000))


class ClaimPayoutsSchema(Schema):
    lines = fields.List(fields.Nested(LineBalanceSchema))
    payouts = fields.List(fields.Nested(PayoutSchema))
    closure = fields.Nested(
        RemainderClosureSchema,
        allow_none=True,
        metadata={"description": "Set once finance closed what was left of the grant."},
    )


class PayoutFilterSchema(Schema):
    state = fields.Str(validate=validate.OneOf([s.value for s in PayoutState]))
    claim_id = fields.Int(strict=True)


class CorrectionSchema(Schema):
    payee_iban = fields.Str(required=True, validate=validate.Length(min=1, max=42))
    payee_bic = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=11))
    payee_name = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=140))


class PayoutEventSchema(Schema):
    event = fields.Str(
        required=True, validate=validate.OneOf(["approve", "reject", "cancel", "correct"])
    )
    reason = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=5000))
    correction = fields.Nested(
        CorrectionSchema,
        allow_none=True,
        load_default=None,
        metadata={"description": "The new account, for `correct` after a return."},
    )


class BatchSchema(Schema):
    id = fields.Int()
    state = fields.Str()
    msg_id = fields.Str()
    pmt_inf_id = fields.Str()
    pain_version = fields.Str()
    execution_date = fields.Date()
    item_count = fields.Int()
    total = fields.Decimal(as_string=True)
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
    amount = fields.Decimal(as_string=True)
    payout_state = fields.Str()


class BatchDetailSchema(BatchSchema):
    items = fields.List(fields.Nested(BatchItemSchema))


class BatchBuildSchema(Schema):
    execution_date = fields.Date(
        allow_none=True, load_default=None, metadata={"description": "Default: today."}
    )


class BatchBuildJobSchema(Schema):
    job_id = fields.Int()
    status = fields.Str()
    href = fields.Str(metadata={"description": "Poll this job; its result has `batch_id`."})


class BatchEventSchema(Schema):
    event = fields.Str(required=True, validate=validate.OneOf(["approve", "release", "cancel"]))
    reason = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=5000))


# --- payouts ----------------------------------------------------------------------------------
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
    def get(self, claim_id: int):  # type: ignore[no-untyped-def]
        """A claim's payouts, and what each measure line has left of its grant."""
        claim = db.session.scalars(
            api_scope().select(Claim).where(Claim.id == claim_id).options(selectinload(Claim.lines))
        ).one_or_none()
        if claim is None:
            abort(404, message="No such claim.")
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
    @blp.arguments(PayoutInSchema)
    @blp.response(201, PayoutSchema)
    @blp.alt_response(409, description="The claim is not granted (or no longer in payment).")
    def post(self, data: dict, claim_id: int):  # type: ignore[no-untyped-def]
        """Send in a receipt (regime A, the applicant) or a supplier invoice (B, assessor)."""
        try:
            payout = PayoutService(db.session).request(
                api_scope(), api_user(), claim_id, PayoutInput(**data)
            )
        except DomainError as exc:
            abort_with_problem(exc)
        db.session.commit()
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
    def post(self, data: dict, claim_id: int):  # type: ignore[no-untyped-def]
        """Close what is left of the grant, with a reason: nothing more is paid.

        What no payout stands for goes back to the budget of the grant's year; the claim
        is settled at once, or once the payouts sent are booked.
        """
        try:
            closure = PayoutService(db.session).close_remainder(
                api_scope(), api_user(), claim_id, reason=data["reason"]
            )
        except DomainError as exc:
            abort_with_problem(exc)
        db.session.commit()
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
    def get(self, filters: dict, pagination_parameters):  # type: ignore[no-untyped-def]
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
    @blp.doc(security=SECURITY)
    @blp.arguments(PayoutEventSchema)
    @blp.response(200, PayoutSchema)
    @blp.alt_response(403, description="Dual control or the approval limit refuses it.")
    @blp.alt_response(409, description="Not possible in the payout's state.")
    def post(self, data: dict, payout_id: int):  # type: ignore[no-untyped-def]
        """Approve, reject (with a reason), cancel (with a reason), or correct a return.

        Above your approval limit an approval is the first of two (`first_approved`).
        """
        try:
            payout = PayoutService(db.session).decide(
                api_scope(),
                api_user(),
                payout_id,
                data["event"],
                reason=data["reason"],
                correction=data["correction"],
            )
        except DomainError as exc:
            abort_with_problem(exc)
        db.session.commit()
        return _payout(payout)


# --- batches ----------------------------------------------------------------------------------
@blp.route("/batches")
class Batches(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.response(200, BatchSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):  # type: ignore[no-untyped-def]
        """The organisation's payment batches, the newest first."""
        query = api_scope().select(PaymentBatch)
        ordered = query.order_by(PaymentBatch.created_at.desc(), PaymentBatch.id.desc())
        return page_of(ordered, pagination_parameters)

    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.arguments(BatchBuildSchema)
    @blp.response(202, BatchBuildJobSchema)
    @blp.alt_response(409, description="There are no approved payouts to pay.")
    def post(self, data: dict):  # type: ignore[no-untyped-def]
        """Build a batch of every approved payout: starts a job and answers at once."""
        scope = api_scope()
        try:
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
        except DomainError as exc:
            abort_with_problem(exc)
        db.session.commit()
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
    def get(self, batch_id: int):  # type: ignore[no-untyped-def]
        """One batch with its payments (end-to-end id, payee, amount, state)."""
        return _batch_detail(batch_id)


@blp.route("/batches/<int:batch_id>/events")
class BatchEvents(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.arguments(BatchEventSchema)
    @blp.response(200, BatchSchema)
    @blp.alt_response(403, description="Dual control: who approved it does not release it.")
    @blp.alt_response(409, description="Not possible in the batch's state.")
    def post(self, data: dict, batch_id: int):  # type: ignore[no-untyped-def]
        """Approve, release (a second finance user; repeated, it changes nothing) or cancel
        (with a reason, only before release)."""
        service = BatchService(db.session)
        scope, user = api_scope(), api_user()
        try:
            if data["event"] == "approve":
                batch = service.approve(scope, user, batch_id)
            elif data["event"] == "release":
                batch = service.release(scope, user, batch_id)
            else:
                batch = service.cancel(scope, user, batch_id, reason=data["reason"] or "")
        except DomainError as exc:
            abort_with_problem(exc)
        db.session.commit()
        return batch


@blp.route("/batches/<int:batch_id>/file")
class BatchFile(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.response(200, description="The frozen pain.001 (application/xml), byte for byte.")
    @blp.alt_response(409, description="The batch is not released yet.")
    def get(self, batch_id: int):  # type: ignore[no-untyped-def]
        """The payment file of a released batch; every download gives the same bytes."""
        found = api_scope().get(db.session, PaymentBatch, batch_id)
        if found is None:
            abort(404, message="No such batch.")
        try:
            data = BatchService(db.session).file(api_scope(), found.id, user=api_user())
            db.session.commit()  # the download's audit event
        except DomainError as exc:
            abort_with_problem(exc)
        return send_file(
            io.BytesIO(data),
            mimetype="application/xml",
            as_attachment=True,
            download_name=f"{found.msg_id}.xml",
            max_age=0,
        )


# --- bank statements and the review queue ------------------------------------------------------
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
    opening_balance = fields.Decimal(as_string=True)
    closing_balance = fields.Decimal(as_string=True)
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
    amount = fields.Decimal(as_string=True)
    open_amount = fields.Decimal(as_string=True, metadata={"description": "Not yet booked."})
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


class StatementEntryFilterSchema(Schema):
    status = fields.Str(
        validate=validate.OneOf([s.value for s in statement_queries.REVIEW_STATUSES]),
        metadata={"description": "Default: both unmatched and duplicate."},
    )


class MatchSchema(Schema):
    payout_id = fields.Int(required=True, strict=True)
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=5000))


class DismissSchema(Schema):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=5000))


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
    def get(self, pagination_parameters):  # type: ignore[no-untyped-def]
        """Imported bank statements, the newest first."""
        query = api_scope().select(BankStatement)
        ordered = query.order_by(BankStatement.created_at.desc(), BankStatement.id.desc())
        return page_of(ordered, pagination_parameters)

    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.arguments(StatementUploadSchema, location="files")
    @blp.response(202, StatementImportJobSchema)
    @blp.alt_response(422, description="No file, an empty one, or not XML.")
    def post(self, files: dict):  # type: ignore[no-untyped-def]
        """Upload a camt.053: starts the import job and answers at once.

        The job validates the file (schema, size, no declarations); a refused file fails
        the job with the reason, and nothing is imported.
        """
        try:
            data = statement_queries.check_upload(files["file"].read())
            key = store_upload(data)
            job = JobService(db.session).start(
                api_scope(), api_user(), STATEMENT_IMPORT, {"upload_key": key}
            )
        except DomainError as exc:
            abort_with_problem(exc)
        db.session.commit()
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
    def get(self, filters: dict, pagination_parameters):  # type: ignore[no-untyped-def]
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
    def post(self, data: dict, entry_id: int):  # type: ignore[no-untyped-def]
        """Book a sent payout against an unmatched debit of the same amount (audited)."""
        review = ReviewQueue(db.session)
        try:
            entry = review.match_by_hand(
                api_scope(), api_user(), entry_id, data["payout_id"], data["reason"]
            )
        except DomainError as exc:
            abort_with_problem(exc)
        db.session.commit()
        return _entry(review, entry)


@blp.route("/statement-entries/<int:entry_id>/dismiss")
class StatementEntryDismiss(MethodView):
    @token_required(Role.FINANCE)
    @blp.doc(security=SECURITY)
    @blp.arguments(DismissSchema)
    @blp.response(200, StatementEntrySchema)
    @blp.alt_response(409, description="The entry is not in the review queue.")
    def post(self, data: dict, entry_id: int):  # type: ignore[no-untyped-def]
        """Close an entry that is not ours to book, with the reason (audited)."""
        review = ReviewQueue(db.session)
        try:
            entry = review.dismiss(api_scope(), api_user(), entry_id, data["reason"])
        except DomainError as exc:
            abort_with_problem(exc)
        db.session.commit()
        return _entry(review, entry)
